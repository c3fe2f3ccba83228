//! S3: the job-event archive and the runner binaries mirror.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::sdk_error;
use crate::ports::AwsError;

pub async fn put(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    metadata: BTreeMap<String, String>,
) -> Result<(), AwsError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .set_metadata(Some(metadata.into_iter().collect()))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

pub async fn head(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(
            out.metadata()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        )),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(e) => Err(sdk_error(e)),
    }
}
