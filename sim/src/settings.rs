//! The world model's parameters: everything about AWS and GitHub that is not the pool's config.
//!
//! Defaults are what we measured or what AWS/GitHub document; every one can be overridden from a
//! JSON file (`flotilla replay --world FILE`). The digital twin scales them down in time.

use serde::{Deserialize, Serialize};

use crate::rng::Delay;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorldSettings {
    /// GitHub → API Gateway → webhook Lambda.
    pub webhook_delivery: Delay,
    /// SQS event source poll → scale-up handler running.
    pub scale_up_start: Delay,
    /// Scale-up invocation time besides its launches (observing, job checks).
    pub scale_up_base: Delay,
    /// Per CreateFleet + runner provisioning.
    pub scale_up_per_launch: Delay,
    /// Scale-down / pool: from schedule to commands being performed (listing AWS and GitHub).
    pub schedule_observe: Delay,
    /// EC2 pending → user data running.
    pub instance_boot: Delay,
    /// User data → runner registered and online at GitHub.
    pub runner_registration: Delay,
    /// GitHub: a queued job reaching an idle runner.
    pub job_assignment: Delay,
    /// Ephemeral runner: job done → instance terminates itself.
    pub ephemeral_shutdown: Delay,
    /// GitHub marks a runner offline this long after its instance died.
    pub runner_offline_after_seconds: f64,
    /// GitHub fails a job whose runner vanished after this long.
    pub lost_runner_job_timeout_seconds: f64,
    /// How spot interruptions happen.
    pub interruptions: InterruptionModel,
    /// Interruptions at scripted instants, besides the model's (the digital twin injects the
    /// same one on both sides). Empty by default and then absent from the JSON.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scripted_interruptions: Vec<ScriptedInterruption>,
    /// Per-call chance that an instance type has no capacity in a CreateFleet call.
    pub capacity: Vec<CapacityRule>,
    /// Per-call chance that CreateFleet answers RequestLimitExceeded.
    pub throttle_probability: f64,
    /// Availability zones to launch in (subnets); empty: every zone the price book has for the type.
    pub availability_zones: Vec<String>,
    /// GitHub API requests one App installation may make per hour.
    pub github_api_budget_per_hour: u64,
    /// Visibility timeout of the build queue (SQS), seconds.
    pub queue_visibility_timeout_seconds: u32,
    /// Costs besides instances.
    pub costs: CostSettings,
    /// Points in the fleet timeline (for plots); 0: none.
    pub timeline_points: u32,
    /// The simulation ends when every served job has finished and every instance is gone, or
    /// this long after the last job was queued (a policy that strands jobs then shows them as
    /// never started), seconds.
    pub max_drain_seconds: f64,
}

impl Default for WorldSettings {
    fn default() -> Self {
        WorldSettings {
            webhook_delivery: Delay::LogNormal {
                median: 0.8,
                sigma: 0.4,
            },
            scale_up_start: Delay::LogNormal {
                median: 0.5,
                sigma: 0.3,
            },
            scale_up_base: Delay::LogNormal {
                median: 0.4,
                sigma: 0.3,
            },
            scale_up_per_launch: Delay::LogNormal {
                median: 1.2,
                sigma: 0.3,
            },
            schedule_observe: Delay::LogNormal {
                median: 1.5,
                sigma: 0.3,
            },
            instance_boot: Delay::LogNormal {
                median: 40.0,
                sigma: 0.25,
            },
            runner_registration: Delay::LogNormal {
                median: 25.0,
                sigma: 0.3,
            },
            job_assignment: Delay::LogNormal {
                median: 2.0,
                sigma: 0.4,
            },
            ephemeral_shutdown: Delay::constant(10.0),
            runner_offline_after_seconds: 90.0,
            lost_runner_job_timeout_seconds: 600.0,
            interruptions: InterruptionModel::default(),
            scripted_interruptions: Vec::new(),
            capacity: Vec::new(),
            throttle_probability: 0.0,
            availability_zones: Vec::new(),
            github_api_budget_per_hour: 5_000,
            queue_visibility_timeout_seconds: 30,
            costs: CostSettings::default(),
            timeline_points: 600,
            max_drain_seconds: 14.0 * 86_400.0,
        }
    }
}

/// How spot instances get reclaimed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum InterruptionModel {
    /// From the spot advisor's bucket of each type (see [`monthly_share_to_hourly_rate`]).
    Advisor {
        /// Multiplies every rate (1: as advised).
        #[serde(default = "one")]
        factor: f64,
    },
    /// The same rate for every spot instance, interruptions per instance-hour.
    Rate {
        per_instance_hour: f64,
    },
    None,
}

fn one() -> f64 {
    1.0
}

impl Default for InterruptionModel {
    fn default() -> Self {
        InterruptionModel::Advisor { factor: 1.0 }
    }
}

/// The spot advisor says what share of a type's instances AWS reclaimed over the past month
/// (buckets <5 %, 5-10 %, …, >20 %). Read as "an instance running the whole month (730 h) is
/// reclaimed with probability p", with a constant hazard λ: `1 − e^(−730 λ) = p`, so
/// `λ = −ln(1 − p) / 730` per instance-hour. A bucket stands for its midpoint (2.5 %, 7.5 %,
/// 12.5 %, 17.5 %) and `>20 %` for 25 %. A CI instance living T hours is then reclaimed with
/// probability ≈ λT (0.0035 % per hour for the lowest bucket, 0.039 % for the highest).
pub fn monthly_share_to_hourly_rate(share: f64) -> f64 {
    let p = share.clamp(0.0, 0.999_999);
    -libm::log(1.0 - p) / 730.0
}

/// The share a bucket stands for.
pub fn bucket_share(index: u8) -> f64 {
    match index {
        0 => 0.025,
        1 => 0.075,
        2 => 0.125,
        3 => 0.175,
        _ => 0.25,
    }
}

/// One spot interruption at a scripted instant: the `launch`-th spot instance launched (0-based,
/// in launch order) gets the two-minute warning `warning_after_seconds` after its launch and is
/// reclaimed two minutes later (if it still lives then).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedInterruption {
    pub launch: u64,
    pub warning_after_seconds: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityRule {
    /// An instance type, or `*` for all.
    pub instance_type: String,
    /// Only for this capacity type (`spot` / `on-demand`); absent: both.
    #[serde(default)]
    pub capacity_type: Option<String>,
    /// Chance, per CreateFleet call, that the type has no capacity.
    pub unavailable_probability: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostSettings {
    /// EBS gp3, USD per GB-month (us-east-1 list price).
    pub ebs_usd_per_gb_month: f64,
    pub lambda_usd_per_million_requests: f64,
    /// arm64 Lambda, USD per GB-second.
    pub lambda_usd_per_gb_second: f64,
    pub lambda_memory_mb: f64,
    pub sqs_usd_per_million_requests: f64,
    pub api_gateway_usd_per_million_requests: f64,
    /// SQS ReceiveMessage calls the event source mapping makes while idle (long polls, all
    /// pollers), per hour.
    pub sqs_idle_polls_per_hour: f64,
}

impl Default for CostSettings {
    fn default() -> Self {
        CostSettings {
            ebs_usd_per_gb_month: 0.08,
            lambda_usd_per_million_requests: 0.20,
            lambda_usd_per_gb_second: 0.000_013_333_4,
            lambda_memory_mb: 512.0,
            sqs_usd_per_million_requests: 0.40,
            api_gateway_usd_per_million_requests: 1.00,
            sqs_idle_polls_per_hour: 900.0,
        }
    }
}

impl WorldSettings {
    pub fn validate(&self) -> Result<(), String> {
        let delays = [
            ("webhook_delivery", &self.webhook_delivery),
            ("scale_up_start", &self.scale_up_start),
            ("scale_up_base", &self.scale_up_base),
            ("scale_up_per_launch", &self.scale_up_per_launch),
            ("schedule_observe", &self.schedule_observe),
            ("instance_boot", &self.instance_boot),
            ("runner_registration", &self.runner_registration),
            ("job_assignment", &self.job_assignment),
            ("ephemeral_shutdown", &self.ephemeral_shutdown),
        ];
        for (name, d) in delays {
            d.validate(name)?;
        }
        for (i, c) in self.capacity.iter().enumerate() {
            if !(0.0..=1.0).contains(&c.unavailable_probability) {
                return Err(format!(
                    "capacity[{i}].unavailable_probability must be within 0-1"
                ));
            }
            if let Some(ct) = &c.capacity_type {
                if ct != "spot" && ct != "on-demand" {
                    return Err(format!(
                        "capacity[{i}].capacity_type must be \"spot\" or \"on-demand\""
                    ));
                }
            }
        }
        for (i, s) in self.scripted_interruptions.iter().enumerate() {
            if !(s.warning_after_seconds >= 0.0 && s.warning_after_seconds.is_finite()) {
                return Err(format!(
                    "scripted_interruptions[{i}].warning_after_seconds must be a non-negative number"
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.throttle_probability) {
            return Err("throttle_probability must be within 0-1".into());
        }
        match self.interruptions {
            InterruptionModel::Advisor { factor } if factor < 0.0 || !factor.is_finite() => {
                return Err("interruptions.factor must be a non-negative number".into())
            }
            InterruptionModel::Rate { per_instance_hour }
                if per_instance_hour < 0.0 || !per_instance_hour.is_finite() =>
            {
                return Err("interruptions.per_instance_hour must be a non-negative number".into())
            }
            _ => {}
        }
        if self.queue_visibility_timeout_seconds == 0 {
            return Err("queue_visibility_timeout_seconds must be at least 1".into());
        }
        Ok(())
    }

    /// Every delay divided by `divisor` (the twin replays hours in minutes).
    pub fn time_scaled(&self, divisor: f64) -> WorldSettings {
        let f = 1.0 / divisor;
        let mut s = self.clone();
        s.webhook_delivery = self.webhook_delivery.scaled(f);
        s.scale_up_start = self.scale_up_start.scaled(f);
        s.scale_up_base = self.scale_up_base.scaled(f);
        s.scale_up_per_launch = self.scale_up_per_launch.scaled(f);
        s.schedule_observe = self.schedule_observe.scaled(f);
        s.instance_boot = self.instance_boot.scaled(f);
        s.runner_registration = self.runner_registration.scaled(f);
        s.job_assignment = self.job_assignment.scaled(f);
        s.ephemeral_shutdown = self.ephemeral_shutdown.scaled(f);
        s.runner_offline_after_seconds *= f;
        s.lost_runner_job_timeout_seconds *= f;
        s.max_drain_seconds *= f;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_conversion() {
        let low = monthly_share_to_hourly_rate(bucket_share(0));
        let high = monthly_share_to_hourly_rate(bucket_share(4));
        assert!((low * 730.0 - 0.02532).abs() < 1e-4, "{low}");
        assert!(high > low * 10.0);
        // A month at the rate reclaims the share.
        let p = 1.0 - libm::exp(-high * 730.0);
        assert!((p - 0.25).abs() < 1e-9);
    }

    #[test]
    fn settings_json_round_trips_and_rejects_unknown_fields() {
        let s = WorldSettings::default();
        let text = serde_json::to_string(&s).unwrap();
        let back: WorldSettings = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<WorldSettings>(r#"{"boot": 3}"#).is_err());
        let partial: WorldSettings =
            serde_json::from_str(r#"{"throttle_probability": 0.1}"#).unwrap();
        assert_eq!(partial.throttle_probability, 0.1);
        assert!(partial.validate().is_ok());
    }
}
