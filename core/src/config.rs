//! The pool's configuration: one JSON schema whose field names are the Terraform variable names.
//!
//! Names and defaults follow terraform-aws-github-runner v7 where it has them, so its users can
//! bring their `.tfvars.json` as is. A `.tfvars.json` also carries deployment-only variables
//! (`vpc_id`, `github_app`, ...): those are accepted and ignored here (see
//! [`DEPLOYMENT_VARIABLES`]); any other unknown key is an error that names it.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cron::{parse_idle_cron, parse_schedule_expression};
use crate::labels::normalise_label;

/// Default of `scale_down_schedule_expression` (v7).
pub const DEFAULT_SCALE_DOWN_SCHEDULE: &str = "cron(*/5 * * * ? *)";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Names resources, tags instances and roots every SSM path (`/{prefix}/...`).
    pub prefix: String,
    /// Region of the runners; the simulator picks prices for it.
    pub aws_region: String,
    /// Seconds a queued job waits on the build queue before scale-up sees it.
    pub delay_webhook_event: u32,
    pub enable_ephemeral_runners: bool,
    pub enable_organization_runners: bool,
    /// `None`: on for reusable runners, off for ephemeral ones.
    pub enable_job_queued_check: Option<bool>,
    /// `None`: JIT configuration for ephemeral runners, registration tokens for reusable ones.
    pub enable_jit_config: Option<bool>,
    /// `None`: 5 on linux, 15 on windows.
    pub minimum_running_time_in_minutes: Option<u32>,
    pub runner_boot_time_in_minutes: u32,
    pub runners_maximum_count: u32,
    pub scale_down_schedule_expression: String,
    pub idle_config: Vec<IdleConfig>,
    pub pool_config: Vec<PoolConfig>,
    /// The organization pool runners register with (pools serve org runners only, as in v7).
    pub pool_runner_owner: Option<String>,
    pub instance_types: Vec<String>,
    pub instance_target_capacity_type: CapacityType,
    pub instance_allocation_strategy: AllocationStrategy,
    /// Maximum spot price in USD/hour as a string (EC2's form); `None`: the on-demand price.
    pub instance_max_spot_price: Option<String>,
    /// EC2 Fleet error codes after which a failed spot launch is retried on-demand.
    pub enable_runner_on_demand_failover_for_errors: Vec<String>,
    pub runner_os: RunnerOs,
    pub runner_architecture: RunnerArchitecture,
    pub runner_extra_labels: Vec<String>,
    pub runner_disable_default_labels: bool,
    pub runner_name_prefix: String,
    /// true: every label of the job must be one of the runner's labels (compared exactly,
    /// ignoring case). false: one shared label is enough (v7's loose mode).
    pub enable_runner_workflow_job_labels_check_all: bool,
    /// `owner/repo` names allowed to use the pool; empty: all.
    pub repository_white_list: Vec<String>,
    pub runner_group_name: String,
    pub fifo_build_queue: bool,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// -1: unreserved.
    pub scale_up_reserved_concurrent_executions: i32,
    pub lambda_event_source_mapping_batch_size: u32,
    pub lambda_event_source_mapping_maximum_batching_window_in_seconds: u32,
    pub redrive_build_queue: RedriveBuildQueue,
    pub job_queue_retention_in_seconds: u32,
    /// Flotilla's leak guard: an instance older than this that is not running a job is removed.
    pub instance_max_lifetime_in_minutes: u32,
    /// Re-check a job after launching for it; if it is still queued and its instance is gone
    /// (reclaimed, failed to boot), launch again.
    pub job_retry: JobRetry,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobRetry {
    pub enable: bool,
    pub delay_in_seconds: u32,
    /// Each further re-check waits this many times longer.
    pub delay_backoff: u32,
    pub max_attempts: u32,
    /// Accepted for v7 compatibility (its retry function's sizing); unused here.
    pub lambda_memory_size: Option<u32>,
    pub lambda_timeout: Option<u32>,
}

impl Default for JobRetry {
    fn default() -> Self {
        JobRetry {
            enable: false,
            delay_in_seconds: 300,
            delay_backoff: 2,
            max_attempts: 1,
            lambda_memory_size: None,
            lambda_timeout: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prefix: "github-actions".into(),
            aws_region: "eu-west-1".into(),
            delay_webhook_event: 30,
            enable_ephemeral_runners: false,
            enable_organization_runners: false,
            enable_job_queued_check: None,
            enable_jit_config: None,
            minimum_running_time_in_minutes: None,
            runner_boot_time_in_minutes: 5,
            runners_maximum_count: 3,
            scale_down_schedule_expression: DEFAULT_SCALE_DOWN_SCHEDULE.into(),
            idle_config: Vec::new(),
            pool_config: Vec::new(),
            pool_runner_owner: None,
            instance_types: vec!["m5.large".into(), "c5.large".into()],
            instance_target_capacity_type: CapacityType::Spot,
            instance_allocation_strategy: AllocationStrategy::LowestPrice,
            instance_max_spot_price: None,
            enable_runner_on_demand_failover_for_errors: Vec::new(),
            runner_os: RunnerOs::Linux,
            runner_architecture: RunnerArchitecture::X64,
            runner_extra_labels: Vec::new(),
            runner_disable_default_labels: false,
            runner_name_prefix: String::new(),
            enable_runner_workflow_job_labels_check_all: true,
            repository_white_list: Vec::new(),
            runner_group_name: "Default".into(),
            fifo_build_queue: false,
            block_device_mappings: vec![BlockDeviceMapping::default()],
            scale_up_reserved_concurrent_executions: 1,
            lambda_event_source_mapping_batch_size: 10,
            lambda_event_source_mapping_maximum_batching_window_in_seconds: 0,
            redrive_build_queue: RedriveBuildQueue::default(),
            job_queue_retention_in_seconds: 86_400,
            instance_max_lifetime_in_minutes: 1_440,
            job_retry: JobRetry::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleConfig {
    /// 6-field cron with seconds (`sec min hour day-of-month month day-of-week`), as in v7.
    pub cron: String,
    #[serde(rename = "timeZone", default = "utc")]
    pub time_zone: String,
    #[serde(rename = "idleCount")]
    pub idle_count: u32,
    #[serde(rename = "evictionStrategy", default)]
    pub eviction_strategy: EvictionStrategy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// EventBridge `cron(...)` or `rate(...)`.
    pub schedule_expression: String,
    #[serde(default = "utc_opt")]
    pub schedule_expression_timezone: Option<String>,
    pub size: u32,
}

fn utc() -> String {
    "UTC".into()
}
fn utc_opt() -> Option<String> {
    None
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EvictionStrategy {
    /// Remove the oldest idle runners first, keeping the newest.
    #[default]
    OldestFirst,
    /// Remove the newest idle runners first, keeping the oldest.
    NewestFirst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CapacityType {
    #[serde(rename = "spot")]
    Spot,
    #[serde(rename = "on-demand")]
    OnDemand,
}

impl CapacityType {
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityType::Spot => "spot",
            CapacityType::OnDemand => "on-demand",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllocationStrategy {
    LowestPrice,
    PriceCapacityOptimized,
    CapacityOptimized,
    CapacityOptimizedPrioritized,
    Diversified,
}

impl AllocationStrategy {
    pub const ALL: [AllocationStrategy; 5] = [
        AllocationStrategy::LowestPrice,
        AllocationStrategy::PriceCapacityOptimized,
        AllocationStrategy::CapacityOptimized,
        AllocationStrategy::CapacityOptimizedPrioritized,
        AllocationStrategy::Diversified,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AllocationStrategy::LowestPrice => "lowest-price",
            AllocationStrategy::PriceCapacityOptimized => "price-capacity-optimized",
            AllocationStrategy::CapacityOptimized => "capacity-optimized",
            AllocationStrategy::CapacityOptimizedPrioritized => "capacity-optimized-prioritized",
            AllocationStrategy::Diversified => "diversified",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerOs {
    Linux,
    Windows,
}

impl RunnerOs {
    pub fn as_str(self) -> &'static str {
        match self {
            RunnerOs::Linux => "linux",
            RunnerOs::Windows => "windows",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerArchitecture {
    X64,
    Arm64,
}

impl RunnerArchitecture {
    pub fn as_str(self) -> &'static str {
        match self {
            RunnerArchitecture::X64 => "x64",
            RunnerArchitecture::Arm64 => "arm64",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockDeviceMapping {
    pub delete_on_termination: bool,
    pub device_name: String,
    pub encrypted: bool,
    pub iops: Option<u32>,
    pub kms_key_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub throughput: Option<u32>,
    pub volume_size: u32,
    pub volume_type: String,
}

impl Default for BlockDeviceMapping {
    fn default() -> Self {
        BlockDeviceMapping {
            delete_on_termination: true,
            device_name: "/dev/xvda".into(),
            encrypted: true,
            iops: None,
            kms_key_id: None,
            snapshot_id: None,
            throughput: None,
            volume_size: 30,
            volume_type: "gp3".into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveBuildQueue {
    pub enabled: bool,
    #[serde(rename = "maxReceiveCount", default)]
    pub max_receive_count: Option<u32>,
}

/// Terraform variables of the module that do not shape the policy. A `.tfvars.json` may carry
/// them; the config accepts and ignores them. A test keeps this list equal to
/// `terraform/variables.tf` minus the fields of [`Config`].
pub const DEPLOYMENT_VARIABLES: &[&str] = &[
    "ami_id_ssm_parameter_name",
    "ami_filter",
    "ami_owners",
    "create_service_linked_role_spot",
    "enable_runner_binaries_syncer",
    "enable_spot_termination_watcher",
    "enable_ssm_on_runners",
    "enable_cloudwatch_agent",
    "enable_user_data_debug_logging_runner",
    "ghes_url",
    "github_app",
    "github_app_ssm_parameters",
    "instance_profile_path",
    "job_event_archive_bucket_name",
    "kms_key_arn",
    "lambda_architecture",
    "lambda_memory_size",
    "lambda_runtime",
    "lambda_subnet_ids",
    "lambda_security_group_ids",
    "logging_retention_in_days",
    "logging_kms_key_id",
    "role_path",
    "role_permissions_boundary",
    "runner_binaries_syncer_lambda_zip",
    "runner_binaries_s3_sse_configuration",
    "runner_run_as",
    "runners_lambda_zip",
    "runners_scale_down_lambda_timeout",
    "runners_scale_up_lambda_timeout",
    "pool_lambda_timeout",
    "subnet_ids",
    "tags",
    "vpc_id",
    "webhook_lambda_zip",
    "webhook_lambda_timeout",
    "enable_alarms",
    "alarm_sns_topic_arns",
    "enable_managed_runner_security_group",
    "runner_additional_security_group_ids",
    "userdata_template",
    "enable_userdata",
    "runner_iam_role_managed_policy_arns",
    "api_gateway_throttling_burst_limit",
    "api_gateway_throttling_rate_limit",
    "log_level",
];

/// Every field name of [`Config`], in declaration order.
pub const CONFIG_FIELDS: &[&str] = &[
    "prefix",
    "aws_region",
    "delay_webhook_event",
    "enable_ephemeral_runners",
    "enable_organization_runners",
    "enable_job_queued_check",
    "enable_jit_config",
    "minimum_running_time_in_minutes",
    "runner_boot_time_in_minutes",
    "runners_maximum_count",
    "scale_down_schedule_expression",
    "idle_config",
    "pool_config",
    "pool_runner_owner",
    "instance_types",
    "instance_target_capacity_type",
    "instance_allocation_strategy",
    "instance_max_spot_price",
    "enable_runner_on_demand_failover_for_errors",
    "runner_os",
    "runner_architecture",
    "runner_extra_labels",
    "runner_disable_default_labels",
    "runner_name_prefix",
    "enable_runner_workflow_job_labels_check_all",
    "repository_white_list",
    "runner_group_name",
    "fifo_build_queue",
    "block_device_mappings",
    "scale_up_reserved_concurrent_executions",
    "lambda_event_source_mapping_batch_size",
    "lambda_event_source_mapping_maximum_batching_window_in_seconds",
    "redrive_build_queue",
    "job_queue_retention_in_seconds",
    "instance_max_lifetime_in_minutes",
    "job_retry",
];

/// Fleet error codes a failover list may name (EC2 Fleet `Errors[].ErrorCode`).
pub const FAILOVER_ERROR_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "MaxSpotInstanceCountExceeded",
    "SpotMaxPriceTooLow",
    "UnfulfillableCapacity",
    "InsufficientCapacity",
];

/// One problem with a config: which field, what is wrong, how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// All problems found, so a user fixes them in one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

impl Config {
    /// Parses and validates a config (or `.tfvars.json`) document.
    ///
    /// `null` means "the default", as for a Terraform variable declared `nullable = false`.
    pub fn from_json(text: &str) -> Result<Config, ConfigErrors> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ConfigErrors(vec![err(
                "",
                format!(
                    "not valid JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )])
        })?;
        Config::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Config, ConfigErrors> {
        let serde_json::Value::Object(map) = value else {
            return Err(ConfigErrors(vec![err(
                "",
                "the config must be a JSON object whose keys are Terraform variable names",
            )]));
        };
        let mut errors = Vec::new();
        let mut policy = serde_json::Map::new();
        for (key, val) in map {
            if CONFIG_FIELDS.contains(&key.as_str()) {
                let optional = matches!(
                    key.as_str(),
                    "enable_job_queued_check"
                        | "enable_jit_config"
                        | "minimum_running_time_in_minutes"
                        | "instance_max_spot_price"
                        | "pool_runner_owner"
                );
                if val.is_null() && !optional {
                    continue;
                }
                policy.insert(key, val);
            } else if DEPLOYMENT_VARIABLES.contains(&key.as_str()) {
                continue;
            } else {
                let hint = closest_name(&key)
                    .map(|n| format!(" — did you mean `{n}`?"))
                    .unwrap_or_default();
                errors.push(err(
                    key.clone(),
                    format!("unknown variable{hint} (the config takes the Terraform variable names of the flotilla module; see docs/config.md)"),
                ));
            }
        }
        // Deserialize field by field so a type error names its field.
        let mut config = Config::default();
        let mut full = serde_json::to_value(&config).expect("default config serialises");
        let full_map = full.as_object_mut().expect("config is an object");
        for (key, val) in policy {
            let mut probe = serde_json::Map::new();
            probe.insert(key.clone(), val.clone());
            if let Err(e) = serde_json::from_value::<FieldProbe>(serde_json::Value::Object(probe)) {
                errors.push(err(key.clone(), describe_type_error(&key, &e.to_string())));
            } else {
                full_map.insert(key, val);
            }
        }
        if errors.is_empty() {
            match serde_json::from_value::<Config>(full) {
                Ok(c) => config = c,
                Err(e) => errors.push(err("", e.to_string())),
            }
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values a type cannot: ranges, cron syntax, time zones, names.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut e = Vec::new();
        if self.prefix.is_empty()
            || self.prefix.len() > 40
            || !self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            e.push(err("prefix", "must be 1-40 characters of letters, digits, '-' or '_' (it names AWS resources and SSM paths)"));
        }
        if self.delay_webhook_event > 900 {
            e.push(err(
                "delay_webhook_event",
                "must be 0-900 seconds (the SQS DelaySeconds limit)",
            ));
        }
        if self.runners_maximum_count == 0 {
            e.push(err(
                "runners_maximum_count",
                "must be at least 1: it is the most instances this pool may run at once",
            ));
        }
        if self.runner_boot_time_in_minutes == 0 {
            e.push(err("runner_boot_time_in_minutes", "must be at least 1: instances that have not registered within it are treated as orphans"));
        }
        if let Some(m) = self.minimum_running_time_in_minutes {
            if m > 10_080 {
                e.push(err(
                    "minimum_running_time_in_minutes",
                    "must be at most 10080 (a week); use null for the OS default",
                ));
            }
        }
        if self.instance_max_lifetime_in_minutes < 10 {
            e.push(err(
                "instance_max_lifetime_in_minutes",
                "must be at least 10 minutes, or instances would be recycled before they boot",
            ));
        }
        if let Err(msg) = parse_schedule_expression(&self.scale_down_schedule_expression, None) {
            e.push(err("scale_down_schedule_expression", msg));
        }
        for (i, idle) in self.idle_config.iter().enumerate() {
            if let Err(msg) = parse_idle_cron(&idle.cron, &idle.time_zone) {
                e.push(err(format!("idle_config[{i}]"), msg));
            }
        }
        for (i, pool) in self.pool_config.iter().enumerate() {
            if let Err(msg) = parse_schedule_expression(
                &pool.schedule_expression,
                pool.schedule_expression_timezone.as_deref(),
            ) {
                e.push(err(format!("pool_config[{i}].schedule_expression"), msg));
            }
            if pool.size > self.runners_maximum_count {
                e.push(err(
                    format!("pool_config[{i}].size"),
                    format!(
                        "{} is more than runners_maximum_count ({}): raise the maximum or shrink the pool",
                        pool.size, self.runners_maximum_count
                    ),
                ));
            }
        }
        if !self.pool_config.is_empty() {
            if !self.enable_organization_runners {
                e.push(err("pool_config", "pools serve organization runners only: set enable_organization_runners = true or empty pool_config"));
            }
            if self
                .pool_runner_owner
                .as_deref()
                .is_none_or(|o| o.is_empty() || o.contains('/'))
            {
                e.push(err("pool_runner_owner", "must name the organization pool runners register with (no owner/repo) when pool_config is set"));
            }
        }
        if self.instance_types.is_empty() {
            e.push(err(
                "instance_types",
                "must name at least one EC2 instance type, e.g. [\"m5.large\"]",
            ));
        }
        let mut seen = BTreeSet::new();
        for t in &self.instance_types {
            if !is_instance_type(t) {
                e.push(err(
                    "instance_types",
                    format!("`{t}` is not an EC2 instance type name such as m5.large"),
                ));
            }
            if !seen.insert(t.as_str()) {
                e.push(err("instance_types", format!("`{t}` is listed twice")));
            }
        }
        if self.instance_target_capacity_type == CapacityType::OnDemand
            && !matches!(
                self.instance_allocation_strategy,
                AllocationStrategy::LowestPrice
            )
        {
            e.push(err("instance_allocation_strategy", format!("on-demand fleets support lowest-price only here; `{}` applies to spot (set instance_target_capacity_type = \"spot\" or use lowest-price)", self.instance_allocation_strategy.as_str())));
        }
        if let Some(price) = &self.instance_max_spot_price {
            if price.parse::<f64>().map(|p| p <= 0.0).unwrap_or(true) {
                e.push(err(
                    "instance_max_spot_price",
                    format!(
                        "`{price}` is not a positive USD/hour price such as \"0.10\"; use null for on-demand"
                    ),
                ));
            }
        }
        for code in &self.enable_runner_on_demand_failover_for_errors {
            if !FAILOVER_ERROR_CODES.contains(&code.as_str()) {
                e.push(err(
                    "enable_runner_on_demand_failover_for_errors",
                    format!(
                        "`{code}` is not a fleet error code this pool can fail over on; use one of {}",
                        FAILOVER_ERROR_CODES.join(", ")
                    ),
                ));
            }
        }
        if !self.enable_runner_on_demand_failover_for_errors.is_empty()
            && self.instance_target_capacity_type == CapacityType::OnDemand
        {
            e.push(err("enable_runner_on_demand_failover_for_errors", "only applies to spot pools: the pool already launches on-demand (empty the list or use spot)"));
        }
        for label in &self.runner_extra_labels {
            if normalise_label(label).is_empty() || label.contains(',') {
                e.push(err(
                    "runner_extra_labels",
                    format!("`{label}` is not a runner label (non-empty, no commas)"),
                ));
            }
        }
        if self.runner_disable_default_labels && self.runner_extra_labels.is_empty() {
            e.push(err("runner_extra_labels", "must name at least one label when runner_disable_default_labels is true, or no job could ever match"));
        }
        for repo in &self.repository_white_list {
            if repo.split('/').count() != 2 || repo.starts_with('/') || repo.ends_with('/') {
                e.push(err(
                    "repository_white_list",
                    format!("`{repo}` is not an owner/repo name"),
                ));
            }
        }
        if self.runner_group_name.is_empty() {
            e.push(err(
                "runner_group_name",
                "must not be empty (GitHub's default group is \"Default\")",
            ));
        }
        if self.block_device_mappings.is_empty() {
            e.push(err(
                "block_device_mappings",
                "must hold at least the root volume",
            ));
        }
        for (i, b) in self.block_device_mappings.iter().enumerate() {
            if b.volume_size == 0 || b.volume_size > 16_384 {
                e.push(err(
                    format!("block_device_mappings[{i}].volume_size"),
                    "must be 1-16384 GiB",
                ));
            }
            if !matches!(
                b.volume_type.as_str(),
                "gp2" | "gp3" | "io1" | "io2" | "st1" | "sc1" | "standard"
            ) {
                e.push(err(
                    format!("block_device_mappings[{i}].volume_type"),
                    format!(
                        "`{}` is not an EBS volume type (gp3, gp2, io1, io2, st1, sc1, standard)",
                        b.volume_type
                    ),
                ));
            }
        }
        if self.scale_up_reserved_concurrent_executions < -1 {
            e.push(err(
                "scale_up_reserved_concurrent_executions",
                "must be -1 (unreserved) or at least 0",
            ));
        }
        if !(1..=10_000).contains(&self.lambda_event_source_mapping_batch_size) {
            e.push(err(
                "lambda_event_source_mapping_batch_size",
                "must be 1-10000 (SQS event source limit; 10 for FIFO queues)",
            ));
        }
        if self.fifo_build_queue && self.lambda_event_source_mapping_batch_size > 10 {
            e.push(err(
                "lambda_event_source_mapping_batch_size",
                "must be at most 10 with fifo_build_queue",
            ));
        }
        if self.lambda_event_source_mapping_maximum_batching_window_in_seconds > 300 {
            e.push(err(
                "lambda_event_source_mapping_maximum_batching_window_in_seconds",
                "must be 0-300",
            ));
        }
        if self.redrive_build_queue.enabled
            && self
                .redrive_build_queue
                .max_receive_count
                .is_none_or(|n| n == 0)
        {
            e.push(err(
                "redrive_build_queue.maxReceiveCount",
                "must be at least 1 when redrive is enabled",
            ));
        }
        if !(60..=1_209_600).contains(&self.job_queue_retention_in_seconds) {
            e.push(err(
                "job_queue_retention_in_seconds",
                "must be 60-1209600 (SQS retention limits)",
            ));
        }
        if self.job_retry.enable {
            if !(150..=900).contains(&self.job_retry.delay_in_seconds) {
                e.push(err("job_retry.delay_in_seconds", "must be 150-900: longer than a launch in flight (2 min), at most an SQS visibility delay"));
            }
            if !(1..=10).contains(&self.job_retry.max_attempts) {
                e.push(err("job_retry.max_attempts", "must be 1-10"));
            }
            if self.job_retry.delay_backoff == 0 {
                e.push(err("job_retry.delay_backoff", "must be at least 1"));
            }
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(e))
        }
    }

    pub fn job_queued_check(&self) -> bool {
        self.enable_job_queued_check
            .unwrap_or(!self.enable_ephemeral_runners)
    }

    pub fn jit_config(&self) -> bool {
        self.enable_jit_config
            .unwrap_or(self.enable_ephemeral_runners)
    }

    pub fn minimum_running_time_ms(&self) -> i64 {
        let minutes = self
            .minimum_running_time_in_minutes
            .unwrap_or(match self.runner_os {
                RunnerOs::Linux => 5,
                RunnerOs::Windows => 15,
            });
        i64::from(minutes) * crate::time::MINUTE
    }

    pub fn boot_time_ms(&self) -> i64 {
        i64::from(self.runner_boot_time_in_minutes) * crate::time::MINUTE
    }

    pub fn max_lifetime_ms(&self) -> i64 {
        i64::from(self.instance_max_lifetime_in_minutes) * crate::time::MINUTE
    }

    /// Whether a runner of this pool carries `label` (case-insensitive), without building the list.
    pub fn has_runner_label(&self, label: &str) -> bool {
        let l = label.trim();
        (!self.runner_disable_default_labels
            && (l.eq_ignore_ascii_case("self-hosted")
                || l.eq_ignore_ascii_case(self.runner_os.as_str())
                || l.eq_ignore_ascii_case(self.runner_architecture.as_str())))
            || self
                .runner_extra_labels
                .iter()
                .any(|e| e.trim().eq_ignore_ascii_case(l))
    }

    /// The pool's acceptance rule for a job's labels
    /// (`enable_runner_workflow_job_labels_check_all`), the same as
    /// [`crate::labels::pool_accepts_labels`] over [`Config::runner_labels`].
    pub fn accepts_job_labels<S: AsRef<str>>(&self, job_labels: &[S]) -> bool {
        if self.enable_runner_workflow_job_labels_check_all {
            !job_labels.is_empty() && job_labels.iter().all(|j| self.has_runner_label(j.as_ref()))
        } else {
            job_labels.iter().any(|j| self.has_runner_label(j.as_ref()))
        }
    }

    /// The labels every runner of this pool registers with, normalised (lowercase).
    pub fn runner_labels(&self) -> Vec<String> {
        let mut labels = Vec::new();
        if !self.runner_disable_default_labels {
            labels.push("self-hosted".to_string());
            labels.push(self.runner_os.as_str().to_string());
            labels.push(self.runner_architecture.as_str().to_string());
        }
        for l in &self.runner_extra_labels {
            let n = normalise_label(l);
            if !labels.contains(&n) {
                labels.push(n);
            }
        }
        labels
    }

    /// The Terraform-variable view of this config: every field with its value, for
    /// `recommended.tfvars.json`. Fields equal to the default are left out when `only_changed`.
    pub fn to_tfvars(&self, only_changed: bool) -> serde_json::Map<String, serde_json::Value> {
        let mine = serde_json::to_value(self).expect("config serialises");
        let default = serde_json::to_value(Config::default()).expect("config serialises");
        let mut out = serde_json::Map::new();
        for key in CONFIG_FIELDS {
            let v = &mine[*key];
            if only_changed && *v == default[*key] {
                continue;
            }
            out.insert((*key).to_string(), v.clone());
        }
        out
    }
}

/// A stand-in whose every field is optional, to type-check one key at a time.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct FieldProbe {
    prefix: Option<String>,
    aws_region: Option<String>,
    delay_webhook_event: Option<u32>,
    enable_ephemeral_runners: Option<bool>,
    enable_organization_runners: Option<bool>,
    enable_job_queued_check: Option<bool>,
    enable_jit_config: Option<bool>,
    minimum_running_time_in_minutes: Option<u32>,
    runner_boot_time_in_minutes: Option<u32>,
    runners_maximum_count: Option<u32>,
    scale_down_schedule_expression: Option<String>,
    idle_config: Option<Vec<IdleConfig>>,
    pool_config: Option<Vec<PoolConfig>>,
    pool_runner_owner: Option<String>,
    instance_types: Option<Vec<String>>,
    instance_target_capacity_type: Option<CapacityType>,
    instance_allocation_strategy: Option<AllocationStrategy>,
    instance_max_spot_price: Option<String>,
    enable_runner_on_demand_failover_for_errors: Option<Vec<String>>,
    runner_os: Option<RunnerOs>,
    runner_architecture: Option<RunnerArchitecture>,
    runner_extra_labels: Option<Vec<String>>,
    runner_disable_default_labels: Option<bool>,
    runner_name_prefix: Option<String>,
    enable_runner_workflow_job_labels_check_all: Option<bool>,
    repository_white_list: Option<Vec<String>>,
    runner_group_name: Option<String>,
    fifo_build_queue: Option<bool>,
    block_device_mappings: Option<Vec<BlockDeviceMapping>>,
    scale_up_reserved_concurrent_executions: Option<i32>,
    lambda_event_source_mapping_batch_size: Option<u32>,
    lambda_event_source_mapping_maximum_batching_window_in_seconds: Option<u32>,
    redrive_build_queue: Option<RedriveBuildQueue>,
    job_queue_retention_in_seconds: Option<u32>,
    instance_max_lifetime_in_minutes: Option<u32>,
    job_retry: Option<JobRetry>,
}

fn describe_type_error(field: &str, serde_message: &str) -> String {
    let expected = match field {
        "instance_target_capacity_type" => "\"spot\" or \"on-demand\"".to_string(),
        "instance_allocation_strategy" => AllocationStrategy::ALL
            .iter()
            .map(|s| format!("\"{}\"", s.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        "runner_os" => "\"linux\" or \"windows\"".to_string(),
        "runner_architecture" => "\"x64\" or \"arm64\"".to_string(),
        _ => String::new(),
    };
    if expected.is_empty() {
        format!("{serde_message} (see docs/config.md for the field's type)")
    } else {
        format!("{serde_message}; use one of {expected}")
    }
}

fn is_instance_type(name: &str) -> bool {
    let mut parts = name.split('.');
    let (Some(family), Some(size), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !family.is_empty()
        && !size.is_empty()
        && family.starts_with(|c: char| c.is_ascii_lowercase())
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && size
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// The known name closest to a misspelt key, when it is close enough to be a typo.
fn closest_name(key: &str) -> Option<&'static str> {
    CONFIG_FIELDS
        .iter()
        .chain(DEPLOYMENT_VARIABLES.iter())
        .map(|n| (edit_distance(key, n), *n))
        .filter(|(d, n)| *d <= 3.max(n.len() / 6))
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_v7_defaults() {
        let c = Config::from_json("{}").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.delay_webhook_event, 30);
        assert_eq!(c.runners_maximum_count, 3);
        assert_eq!(c.scale_down_schedule_expression, "cron(*/5 * * * ? *)");
        assert!(c.job_queued_check(), "reusable runners check by default");
        assert!(!c.jit_config());
        assert_eq!(c.minimum_running_time_ms(), 5 * 60_000);
    }

    #[test]
    fn null_means_default_and_optional_nulls_stay_null() {
        let c = Config::from_json(
            r#"{"runners_maximum_count": null, "enable_job_queued_check": null, "enable_ephemeral_runners": true}"#,
        )
        .unwrap();
        assert_eq!(c.runners_maximum_count, 3);
        assert_eq!(c.enable_job_queued_check, None);
        assert!(
            !c.job_queued_check(),
            "ephemeral runners skip the check by default"
        );
        assert!(c.jit_config());
    }

    #[test]
    fn windows_minimum_running_time_default_is_15() {
        let c = Config::from_json(r#"{"runner_os": "windows"}"#).unwrap();
        assert_eq!(c.minimum_running_time_ms(), 15 * 60_000);
    }

    #[test]
    fn unknown_field_is_named_with_a_suggestion() {
        let e = Config::from_json(r#"{"delay_webhook_events": 10}"#).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].field, "delay_webhook_events");
        assert!(
            e.0[0]
                .message
                .contains("did you mean `delay_webhook_event`"),
            "{}",
            e
        );
    }

    #[test]
    fn deployment_variables_are_accepted_and_ignored() {
        let c = Config::from_json(
            r#"{"vpc_id": "vpc-1", "subnet_ids": ["subnet-1"], "github_app": {"id": "1"}, "runners_maximum_count": 7}"#,
        )
        .unwrap();
        assert_eq!(c.runners_maximum_count, 7);
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = Config::from_json(
            r#"{"runners_maximum_count": "many", "instance_target_capacity_type": "cheap"}"#,
        )
        .unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert!(fields.contains(&"runners_maximum_count"), "{e}");
        assert!(fields.contains(&"instance_target_capacity_type"), "{e}");
        assert!(e.to_string().contains("\"on-demand\""), "{e}");
    }

    #[test]
    fn validation_names_field_and_fix() {
        let e = Config::from_json(
            r#"{"runners_maximum_count": 0, "instance_types": ["m5large"], "idle_config": [{"cron": "* * 9-17 * * 1-5", "timeZone": "Mars/Olympus", "idleCount": 1}], "pool_config": [{"schedule_expression": "cron(0 8 * * ? *)", "size": 2}]}"#,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("runners_maximum_count: must be at least 1"),
            "{text}"
        );
        assert!(text.contains("instance_types: `m5large`"), "{text}");
        assert!(text.contains("idle_config[0]"), "{text}");
        assert!(text.contains("Mars/Olympus"), "{text}");
        assert!(text.contains("pool_config[0].size"), "{text}");
    }

    #[test]
    fn bad_failover_code_is_rejected() {
        let e = Config::from_json(r#"{"enable_runner_on_demand_failover_for_errors": ["Oops"]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("InsufficientInstanceCapacity"));
    }

    #[test]
    fn runner_labels_are_default_plus_extra_lowercased() {
        let c = Config::from_json(r#"{"runner_extra_labels": ["GPU", "self-hosted"]}"#).unwrap();
        assert_eq!(
            c.runner_labels(),
            vec!["self-hosted", "linux", "x64", "gpu"]
        );
    }

    #[test]
    fn label_check_without_a_list_agrees_with_the_list() {
        use crate::labels::pool_accepts_labels;
        let jobs: [&[&str]; 6] = [
            &["self-hosted", "linux"],
            &["Self-Hosted", "X64", "gpu"],
            &["self-hosted", "arm64"],
            &["ubuntu-latest"],
            &[],
            &["gpu"],
        ];
        for extra in [vec![], vec!["GPU".to_string()]] {
            for check_all in [true, false] {
                for disable in [false, true] {
                    let c = Config {
                        runner_extra_labels: extra.clone(),
                        enable_runner_workflow_job_labels_check_all: check_all,
                        runner_disable_default_labels: disable,
                        ..Config::default()
                    };
                    for j in jobs {
                        assert_eq!(
                            c.accepts_job_labels(j),
                            pool_accepts_labels(&c.runner_labels(), j, check_all),
                            "{j:?} extra {extra:?} check_all {check_all} disable {disable}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn tfvars_round_trip() {
        let c = Config::from_json(r#"{"delay_webhook_event": 5, "enable_ephemeral_runners": true, "idle_config": [{"cron": "* * 9-17 * * 1-5", "timeZone": "Europe/Amsterdam", "idleCount": 2}]}"#).unwrap();
        let changed = c.to_tfvars(true);
        assert_eq!(changed.len(), 3, "{changed:?}");
        let back = Config::from_value(serde_json::Value::Object(changed)).unwrap();
        assert_eq!(back, c);
        let all = c.to_tfvars(false);
        assert_eq!(all.len(), CONFIG_FIELDS.len());
    }

    #[test]
    fn config_fields_list_matches_the_struct() {
        let v = serde_json::to_value(Config::default()).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        let mut listed: Vec<_> = CONFIG_FIELDS.iter().map(|s| s.to_string()).collect();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        listed.sort();
        assert_eq!(keys_sorted, listed);
        for d in DEPLOYMENT_VARIABLES {
            assert!(
                !CONFIG_FIELDS.contains(d),
                "{d} is both a policy and a deployment variable"
            );
        }
    }

    #[test]
    fn not_an_object_is_an_error() {
        assert!(Config::from_json("[1,2]").is_err());
        assert!(Config::from_json("{").is_err());
    }
}
