//! [`crate::ports::Aws`] with aws-sdk-rust: EC2 Fleet, SQS, SSM, S3.
//!
//! Endpoints, credentials and region come from the SDK's own chain (`AWS_ENDPOINT_URL`,
//! `AWS_REGION`, ...); the tests point it at moto.

mod ec2;
mod s3;
mod sqs;
mod ssm;

use std::collections::BTreeMap;

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};
use flotilla_core::command::LaunchRequest;
use flotilla_core::model::Instance;

use crate::ports::{
    Aws, AwsError, FleetResult, LaunchTarget, Parameter, ParameterKind, PutResult, QueueMessage,
};

pub use ec2::{fleet_overrides, instance_from_sdk};

/// The four service clients, built once per cold start.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub ec2: aws_sdk_ec2::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub s3: aws_sdk_s3::Client,
}

impl AwsClients {
    /// From the SDK's default chain. With an endpoint override (moto), S3 uses path-style URLs.
    pub async fn from_env() -> AwsClients {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        AwsClients::from_config(&config)
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> AwsClients {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        AwsClients {
            ec2: aws_sdk_ec2::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
        }
    }
}

/// Any SDK error as an [`AwsError`], keeping the service's error code.
pub(crate) fn sdk_error<E>(e: E) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    AwsError {
        code: e.code().map(str::to_string),
        message: DisplayErrorContext(&e).to_string(),
    }
}

pub(crate) fn millis(t: Option<&aws_sdk_ec2::primitives::DateTime>) -> flotilla_core::Timestamp {
    flotilla_core::Timestamp::from_millis(t.and_then(|t| t.to_millis().ok()).unwrap_or(0))
}

impl Aws for AwsClients {
    async fn get_parameter(
        &self,
        name: &str,
        decrypt: bool,
    ) -> Result<Option<Parameter>, AwsError> {
        ssm::get(&self.ssm, name, decrypt).await
    }
    async fn get_parameters(&self, names: &[String]) -> Result<Vec<Parameter>, AwsError> {
        ssm::get_many(&self.ssm, names).await
    }
    async fn parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, AwsError> {
        ssm::by_path(&self.ssm, path).await
    }
    async fn put_parameter(
        &self,
        name: &str,
        value: &str,
        kind: ParameterKind<'_>,
        overwrite: bool,
    ) -> Result<PutResult, AwsError> {
        ssm::put(&self.ssm, name, value, kind, overwrite).await
    }
    async fn put_tagged_parameter(
        &self,
        name: &str,
        value: &str,
        kind: ParameterKind<'_>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        ssm::put_tagged(&self.ssm, name, value, kind, tags).await
    }
    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError> {
        ssm::delete(&self.ssm, name).await
    }
    async fn send_message(&self, message: QueueMessage<'_>) -> Result<(), AwsError> {
        sqs::send(&self.sqs, message).await
    }
    async fn change_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        seconds: u32,
    ) -> Result<(), AwsError> {
        sqs::change_visibility(&self.sqs, queue_url, receipt_handle, seconds).await
    }
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        metadata: BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        s3::put(&self.s3, bucket, key, body, metadata).await
    }
    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        s3::head(&self.s3, bucket, key).await
    }
    async fn describe_instances(
        &self,
        prefix: &str,
        ids: Option<&[String]>,
    ) -> Result<Vec<Instance>, AwsError> {
        ec2::describe(&self.ec2, prefix, ids).await
    }
    async fn create_fleet(
        &self,
        request: &LaunchRequest,
        target: &LaunchTarget,
    ) -> Result<FleetResult, AwsError> {
        ec2::create_fleet(&self.ec2, request, target).await
    }
    async fn tag_instance(
        &self,
        instance_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        ec2::tag(&self.ec2, instance_id, tags).await
    }
    async fn untag_instance(&self, instance_id: &str, keys: &[String]) -> Result<(), AwsError> {
        ec2::untag(&self.ec2, instance_id, keys).await
    }
    async fn terminate_instances(&self, instance_ids: &[String]) -> Result<(), AwsError> {
        ec2::terminate(&self.ec2, instance_ids).await
    }
}
