//! A function's settings, read from its environment through the contract ([`crate::contract`]):
//! a field is `Some` exactly when the contract lists its variable for the function.

use crate::contract::{self, Env, EnvError, Function};

#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub prefix: String,
    pub log_level: String,
    pub config_parameter: Option<String>,
    pub github_app_id_parameter: Option<String>,
    pub github_app_key_parameter: Option<String>,
    pub github_webhook_secret_parameter: Option<String>,
    pub github_api_url: Option<String>,
    pub build_queue_url: Option<String>,
    /// Empty: no archive.
    pub job_archive_bucket: Option<String>,
    pub launch_template_name: Option<String>,
    pub subnet_ids: Option<Vec<String>>,
    /// Empty: `aws/ssm`.
    pub kms_key_id: Option<String>,
    pub metrics_namespace: Option<String>,
    pub runner_binaries_bucket: Option<String>,
    pub runner_binaries_key: Option<String>,
    pub runner_os: Option<String>,
    pub runner_architecture: Option<String>,
}

impl Settings {
    /// Reads every variable the contract gives `env`'s function, and nothing else.
    pub fn load(env: &Env) -> Result<Settings, EnvError> {
        let c = contract::Contract::load();
        let f = env.function();
        let get = |name: &str| -> Result<Option<String>, EnvError> {
            if c.allows(f, name) {
                env.get(name).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(Settings {
            prefix: env.get(contract::PREFIX)?,
            log_level: env.get(contract::LOG_LEVEL)?,
            config_parameter: get(contract::CONFIG_PARAMETER)?,
            github_app_id_parameter: get(contract::GITHUB_APP_ID_PARAMETER)?,
            github_app_key_parameter: get(contract::GITHUB_APP_KEY_PARAMETER)?,
            github_webhook_secret_parameter: get(contract::GITHUB_WEBHOOK_SECRET_PARAMETER)?,
            github_api_url: get(contract::GITHUB_API_URL)?,
            build_queue_url: get(contract::BUILD_QUEUE_URL)?,
            job_archive_bucket: get(contract::JOB_ARCHIVE_BUCKET)?,
            launch_template_name: get(contract::LAUNCH_TEMPLATE_NAME)?,
            subnet_ids: if c.allows(f, contract::SUBNET_IDS) {
                Some(env.get_list(contract::SUBNET_IDS)?)
            } else {
                None
            },
            kms_key_id: get(contract::KMS_KEY_ID)?,
            metrics_namespace: get(contract::METRICS_NAMESPACE)?,
            runner_binaries_bucket: get(contract::RUNNER_BINARIES_BUCKET)?,
            runner_binaries_key: get(contract::RUNNER_BINARIES_KEY)?,
            runner_os: get(contract::RUNNER_OS)?,
            runner_architecture: get(contract::RUNNER_ARCHITECTURE)?,
        })
    }

    pub fn metrics_namespace(&self) -> &str {
        self.metrics_namespace.as_deref().unwrap_or("Flotilla")
    }

    /// A setting the function needs (it is in its contract entry, so present once loaded).
    pub fn need<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, EnvError> {
        value
            .as_deref()
            .ok_or_else(|| EnvError(format!("{what} is not configured for this function")))
    }

    pub fn for_function(function: Function) -> Result<Settings, EnvError> {
        Settings::load(&Env::from_process(function))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_loads_exactly_its_contract_variables() {
        for f in Function::ALL {
            let c = contract::Contract::load();
            let allowed: Vec<String> = c.function(f).env.clone();
            let env = Env::from_fn(f, move |name| {
                assert!(
                    allowed.iter().any(|a| a == name),
                    "{name} read by {f} but not in its contract"
                );
                Some(match name {
                    "FLOTILLA_HANDLER" => f.name().into(),
                    "LOG_LEVEL" => "debug".into(),
                    "FLOTILLA_RUNNER_OS" => "linux".into(),
                    "FLOTILLA_RUNNER_ARCHITECTURE" => "x64".into(),
                    "FLOTILLA_SUBNET_IDS" => "subnet-a, subnet-b".into(),
                    other => format!("value-of-{other}"),
                })
            });
            let s = Settings::load(&env).unwrap();
            assert_eq!(s.prefix, "value-of-FLOTILLA_PREFIX");
            assert_eq!(
                s.build_queue_url.is_some(),
                c.allows(f, "FLOTILLA_BUILD_QUEUE_URL")
            );
            if let Some(subnets) = s.subnet_ids {
                assert_eq!(subnets, vec!["subnet-a", "subnet-b"]);
            }
        }
    }
}
