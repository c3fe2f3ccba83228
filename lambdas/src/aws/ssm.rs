//! SSM parameters: config, GitHub App secrets, runner tokens (SecureString, Advanced tier from
//! 4 KB), put-if-absent launch claims, interrupted-job records.

use std::collections::BTreeMap;

use aws_sdk_ssm::types::{ParameterTier, ParameterType, ResourceTypeForTagging, Tag};
use aws_sdk_ssm::Client;

use super::{millis, sdk_error};
use crate::ports::{AwsError, Parameter, ParameterKind, PutResult};

/// Standard-tier parameters hold at most 4 KB; larger values need the Advanced tier.
pub const STANDARD_TIER_MAX_BYTES: usize = 4096;

pub fn tier_for(value: &str) -> ParameterTier {
    if value.len() >= STANDARD_TIER_MAX_BYTES {
        ParameterTier::Advanced
    } else {
        ParameterTier::Standard
    }
}

fn param(p: &aws_sdk_ssm::types::Parameter) -> Option<Parameter> {
    Some(Parameter {
        name: p.name()?.to_string(),
        value: p.value().unwrap_or_default().to_string(),
        last_modified: millis(p.last_modified_date()),
    })
}

pub async fn get(ssm: &Client, name: &str, decrypt: bool) -> Result<Option<Parameter>, AwsError> {
    match ssm
        .get_parameter()
        .name(name)
        .with_decryption(decrypt)
        .send()
        .await
    {
        Ok(out) => Ok(out.parameter().and_then(param)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(e)),
    }
}

pub async fn get_many(ssm: &Client, names: &[String]) -> Result<Vec<Parameter>, AwsError> {
    let mut out = Vec::new();
    for chunk in names.chunks(10) {
        let page = ssm
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(false)
            .send()
            .await
            .map_err(sdk_error)?;
        out.extend(page.parameters().iter().filter_map(param));
    }
    Ok(out)
}

pub async fn by_path(ssm: &Client, path: &str) -> Result<Vec<Parameter>, AwsError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path(path.trim_end_matches('/'))
            .recursive(true)
            .with_decryption(false)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(sdk_error)?;
        out.extend(page.parameters().iter().filter_map(param));
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

pub async fn put(
    ssm: &Client,
    name: &str,
    value: &str,
    kind: ParameterKind<'_>,
    overwrite: bool,
) -> Result<PutResult, AwsError> {
    put_with(ssm, name, value, kind, overwrite, &BTreeMap::new()).await
}

/// Creates the parameter with `tags`; when it exists already, overwrites it and tags it
/// (PutParameter refuses `Tags` together with `Overwrite`).
pub async fn put_tagged(
    ssm: &Client,
    name: &str,
    value: &str,
    kind: ParameterKind<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if put_with(ssm, name, value, kind, false, tags).await? == PutResult::Written {
        return Ok(());
    }
    put_with(ssm, name, value, kind, true, &BTreeMap::new()).await?;
    if tags.is_empty() {
        return Ok(());
    }
    ssm.add_tags_to_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

async fn put_with(
    ssm: &Client,
    name: &str,
    value: &str,
    kind: ParameterKind<'_>,
    overwrite: bool,
    tags: &BTreeMap<String, String>,
) -> Result<PutResult, AwsError> {
    let mut req = ssm
        .put_parameter()
        .name(name)
        .value(value)
        .overwrite(overwrite)
        .tier(tier_for(value));
    if !tags.is_empty() {
        req = req.set_tags(Some(sdk_tags(tags)));
    }
    req = match kind {
        ParameterKind::String => req.r#type(ParameterType::String),
        ParameterKind::Secure { kms_key_id } => req
            .r#type(ParameterType::SecureString)
            .set_key_id(kms_key_id.filter(|k| !k.is_empty()).map(str::to_string)),
    };
    match req.send().await {
        Ok(_) => Ok(PutResult::Written),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_parameter_already_exists()) =>
        {
            Ok(PutResult::AlreadyExists)
        }
        Err(e) => Err(sdk_error(e)),
    }
}

pub async fn delete(ssm: &Client, name: &str) -> Result<(), AwsError> {
    match ssm.delete_parameter().name(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error(e)),
    }
}
