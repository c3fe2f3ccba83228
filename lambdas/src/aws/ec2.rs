//! EC2: the pool's instances, CreateFleet `instant`, tags, termination.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    DefaultTargetCapacityType, Filter, FleetLaunchTemplateConfigRequest,
    FleetLaunchTemplateOverridesRequest, FleetLaunchTemplateSpecificationRequest,
    FleetOnDemandAllocationStrategy, FleetType, InstanceLifecycleType, InstanceStateName,
    InstanceType, OnDemandOptionsRequest, ResourceType, SpotAllocationStrategy, SpotOptionsRequest,
    Tag, TagSpecification, TargetCapacitySpecificationRequest,
};
use aws_sdk_ec2::Client;
use flotilla_core::command::LaunchRequest;
use flotilla_core::config::CapacityType;
use flotilla_core::model::{Instance, InstanceState};
use flotilla_core::tags;

use super::{millis, sdk_error};
use crate::ports::{AwsError, FleetResult, LaunchTarget};

/// DescribeInstances with the prefix tag filter (moto answers the `instance-lifecycle` and
/// `launch-time` filters with HTTP 500, so nothing else is filtered server-side).
pub async fn describe(
    ec2: &Client,
    prefix: &str,
    ids: Option<&[String]>,
) -> Result<Vec<Instance>, AwsError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut req = ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name(format!("tag:{}", tags::PREFIX))
                    .values(prefix)
                    .build(),
            )
            .set_next_token(next.take());
        match ids {
            // Filtering by id keeps a vanished id from failing the whole call.
            Some(ids) => {
                req = req.filters(
                    Filter::builder()
                        .name("instance-id")
                        .set_values(Some(ids.to_vec()))
                        .build(),
                )
            }
            None => req = req.max_results(1000),
        }
        let page = req.send().await.map_err(sdk_error)?;
        for r in page.reservations() {
            for i in r.instances() {
                if let Some(inst) = instance_from_sdk(i) {
                    out.push(inst);
                }
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// One SDK instance as the policy sees it.
pub fn instance_from_sdk(i: &aws_sdk_ec2::types::Instance) -> Option<Instance> {
    let id = i.instance_id()?.to_string();
    let state = match i.state().and_then(|s| s.name()) {
        Some(InstanceStateName::Pending) => InstanceState::Pending,
        Some(InstanceStateName::Running) => InstanceState::Running,
        Some(InstanceStateName::ShuttingDown) => InstanceState::ShuttingDown,
        Some(InstanceStateName::Stopping) => InstanceState::Stopping,
        Some(InstanceStateName::Stopped) => InstanceState::Stopped,
        _ => InstanceState::Terminated,
    };
    let capacity_type = match i.instance_lifecycle() {
        Some(InstanceLifecycleType::Spot) => CapacityType::Spot,
        _ => CapacityType::OnDemand,
    };
    let pairs = i
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or(""))));
    Some(Instance {
        id,
        state,
        launch_time: millis(i.launch_time()),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        capacity_type,
        tags: tags::parse(pairs),
    })
}

/// Overrides: every subnet × every instance type, each with the request's maximum spot price.
pub fn fleet_overrides(
    request: &LaunchRequest,
    target: &LaunchTarget,
) -> Vec<FleetLaunchTemplateOverridesRequest> {
    let mut overrides = Vec::new();
    for subnet in &target.subnet_ids {
        for t in &request.instance_types {
            overrides.push(
                FleetLaunchTemplateOverridesRequest::builder()
                    .subnet_id(subnet)
                    .instance_type(InstanceType::from(t.as_str()))
                    .set_max_price(request.max_spot_price.clone())
                    .build(),
            );
        }
    }
    overrides
}

pub async fn create_fleet(
    ec2: &Client,
    request: &LaunchRequest,
    target: &LaunchTarget,
) -> Result<FleetResult, AwsError> {
    let capacity = match request.capacity_type {
        CapacityType::Spot => DefaultTargetCapacityType::Spot,
        CapacityType::OnDemand => DefaultTargetCapacityType::OnDemand,
    };
    let count = i32::try_from(request.count).unwrap_or(i32::MAX);
    let capacity_spec = TargetCapacitySpecificationRequest::builder()
        .total_target_capacity(count)
        .default_target_capacity_type(capacity.clone())
        .set_spot_target_capacity(
            matches!(request.capacity_type, CapacityType::Spot).then_some(count),
        )
        .set_on_demand_target_capacity(
            matches!(request.capacity_type, CapacityType::OnDemand).then_some(count),
        )
        .build();
    let tags: Vec<Tag> = request
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let config = FleetLaunchTemplateConfigRequest::builder()
        .launch_template_specification(
            FleetLaunchTemplateSpecificationRequest::builder()
                .launch_template_name(&target.launch_template_name)
                .version("$Default")
                .build(),
        )
        .set_overrides(Some(fleet_overrides(request, target)))
        .build();
    let out = ec2
        .create_fleet()
        .r#type(FleetType::Instant)
        .client_token(&request.client_token)
        .launch_template_configs(config)
        .target_capacity_specification(capacity_spec)
        .spot_options(
            SpotOptionsRequest::builder()
                .allocation_strategy(SpotAllocationStrategy::from(
                    request.allocation_strategy.as_str(),
                ))
                .build(),
        )
        .on_demand_options(
            OnDemandOptionsRequest::builder()
                .allocation_strategy(FleetOnDemandAllocationStrategy::LowestPrice)
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(tags.clone()))
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Volume)
                .set_tags(Some(tags))
                .build(),
        )
        .send()
        .await
        .map_err(sdk_error)?;
    let mut result = FleetResult::default();
    for i in out.instances() {
        result.instance_ids.extend(i.instance_ids().iter().cloned());
    }
    for e in out.errors() {
        let code = e.error_code().unwrap_or("Unknown").to_string();
        if !result.error_codes.contains(&code) {
            result.error_codes.push(code);
        }
    }
    Ok(result)
}

pub async fn tag(
    ec2: &Client,
    instance_id: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    ec2.create_tags()
        .resources(instance_id)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

pub async fn untag(ec2: &Client, instance_id: &str, keys: &[String]) -> Result<(), AwsError> {
    ec2.delete_tags()
        .resources(instance_id)
        .set_tags(Some(
            keys.iter().map(|k| Tag::builder().key(k).build()).collect(),
        ))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

pub async fn terminate(ec2: &Client, instance_ids: &[String]) -> Result<(), AwsError> {
    if instance_ids.is_empty() {
        return Ok(());
    }
    ec2.terminate_instances()
        .set_instance_ids(Some(instance_ids.to_vec()))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}
