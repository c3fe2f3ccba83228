//! The one contract with `terraform/`: `contracts/lambda-env.json`.
//!
//! Every environment variable a handler reads goes through [`Env::get`], which refuses a name the
//! contract does not list for that function; every SSM parameter it touches is named by
//! `flotilla_core::naming` under the contract's `ssm_paths`. Tests check both directions.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// The contract file, compiled in.
pub const CONTRACT_JSON: &str = include_str!("../../contracts/lambda-env.json");

pub const HANDLER: &str = "FLOTILLA_HANDLER";
pub const PREFIX: &str = "FLOTILLA_PREFIX";
pub const CONFIG_PARAMETER: &str = "FLOTILLA_CONFIG_PARAMETER";
pub const GITHUB_APP_ID_PARAMETER: &str = "FLOTILLA_GITHUB_APP_ID_PARAMETER";
pub const GITHUB_APP_KEY_PARAMETER: &str = "FLOTILLA_GITHUB_APP_KEY_PARAMETER";
pub const GITHUB_WEBHOOK_SECRET_PARAMETER: &str = "FLOTILLA_GITHUB_WEBHOOK_SECRET_PARAMETER";
pub const GITHUB_API_URL: &str = "FLOTILLA_GITHUB_API_URL";
pub const BUILD_QUEUE_URL: &str = "FLOTILLA_BUILD_QUEUE_URL";
pub const JOB_ARCHIVE_BUCKET: &str = "FLOTILLA_JOB_ARCHIVE_BUCKET";
pub const LAUNCH_TEMPLATE_NAME: &str = "FLOTILLA_LAUNCH_TEMPLATE_NAME";
pub const SUBNET_IDS: &str = "FLOTILLA_SUBNET_IDS";
pub const KMS_KEY_ID: &str = "FLOTILLA_KMS_KEY_ID";
pub const METRICS_NAMESPACE: &str = "FLOTILLA_METRICS_NAMESPACE";
pub const RUNNER_BINARIES_BUCKET: &str = "FLOTILLA_RUNNER_BINARIES_BUCKET";
pub const RUNNER_BINARIES_KEY: &str = "FLOTILLA_RUNNER_BINARIES_KEY";
pub const RUNNER_OS: &str = "FLOTILLA_RUNNER_OS";
pub const RUNNER_ARCHITECTURE: &str = "FLOTILLA_RUNNER_ARCHITECTURE";
pub const LOG_LEVEL: &str = "LOG_LEVEL";

/// Every variable name the Rust side reads (a test checks each is in the contract).
pub const ALL_VARIABLES: &[&str] = &[
    HANDLER,
    PREFIX,
    CONFIG_PARAMETER,
    GITHUB_APP_ID_PARAMETER,
    GITHUB_APP_KEY_PARAMETER,
    GITHUB_WEBHOOK_SECRET_PARAMETER,
    GITHUB_API_URL,
    BUILD_QUEUE_URL,
    JOB_ARCHIVE_BUCKET,
    LAUNCH_TEMPLATE_NAME,
    SUBNET_IDS,
    KMS_KEY_ID,
    METRICS_NAMESPACE,
    RUNNER_BINARIES_BUCKET,
    RUNNER_BINARIES_KEY,
    RUNNER_OS,
    RUNNER_ARCHITECTURE,
    LOG_LEVEL,
];

/// One of the six functions of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    Webhook,
    ScaleUp,
    ScaleDown,
    Pool,
    TerminationWatcher,
    RunnerBinariesSyncer,
}

impl Function {
    pub const ALL: [Function; 6] = [
        Function::Webhook,
        Function::ScaleUp,
        Function::ScaleDown,
        Function::Pool,
        Function::TerminationWatcher,
        Function::RunnerBinariesSyncer,
    ];

    /// The contract's name (the `FLOTILLA_HANDLER` value).
    pub fn name(self) -> &'static str {
        match self {
            Function::Webhook => "webhook",
            Function::ScaleUp => "scale-up",
            Function::ScaleDown => "scale-down",
            Function::Pool => "pool",
            Function::TerminationWatcher => "termination-watcher",
            Function::RunnerBinariesSyncer => "runner-binaries-syncer",
        }
    }

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The zip that carries it.
    pub fn zip(self) -> &'static str {
        match self {
            Function::Webhook => "webhook.zip",
            Function::RunnerBinariesSyncer => "runner-binaries-syncer.zip",
            _ => "runners.zip",
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The parsed contract.
#[derive(Debug, Deserialize)]
pub struct Contract {
    pub handler_selector: String,
    pub zips: BTreeMap<String, Vec<String>>,
    pub variables: BTreeMap<String, Variable>,
    pub functions: BTreeMap<String, FunctionSpec>,
    pub ssm_paths: BTreeMap<String, String>,
    pub instance_tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct Variable {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionSpec {
    pub zip: String,
    pub env: Vec<String>,
    pub ssm_read: Vec<String>,
    pub ssm_write: Vec<String>,
}

impl Contract {
    pub fn load() -> Contract {
        serde_json::from_str(CONTRACT_JSON).expect("contracts/lambda-env.json parses")
    }

    pub fn function(&self, f: Function) -> &FunctionSpec {
        &self.functions[f.name()]
    }

    /// Whether `function` may read `variable`.
    pub fn allows(&self, f: Function, variable: &str) -> bool {
        self.function(f).env.iter().any(|v| v == variable)
    }
}

/// A missing or invalid variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError(pub String);

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EnvError {}

/// How a variable's value is found (the process environment, or a test's map).
pub type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A function's view of its environment: only the contract's variables of that function.
pub struct Env {
    function: Function,
    lookup: Lookup,
    contract: Contract,
}

impl Env {
    /// The process environment.
    pub fn from_process(function: Function) -> Env {
        Env::from_fn(function, |name| std::env::var(name).ok())
    }

    /// Any lookup (tests).
    pub fn from_fn(
        function: Function,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Env {
        Env {
            function,
            lookup: Box::new(lookup),
            contract: Contract::load(),
        }
    }

    pub fn function(&self) -> Function {
        self.function
    }

    /// The variable's value; its contract default when optional and unset or empty.
    ///
    /// Panics when the contract does not list `name` for this function: reading a variable
    /// Terraform does not set is a bug, caught by the tests of each handler.
    pub fn get(&self, name: &str) -> Result<String, EnvError> {
        assert!(
            self.contract.allows(self.function, name),
            "{name} is not in contracts/lambda-env.json for {}",
            self.function
        );
        let spec = &self.contract.variables[name];
        let value = (self.lookup)(name).filter(|v| !v.is_empty());
        let value = match (value, spec.optional) {
            (Some(v), _) => v,
            (None, true) => spec.default.clone().unwrap_or_default(),
            (None, false) => {
                return Err(EnvError(format!(
                    "{name} is not set (required by {})",
                    self.function
                )))
            }
        };
        if spec.kind == "enum" && !spec.values.contains(&value) {
            return Err(EnvError(format!(
                "{name}={value} is not one of {:?}",
                spec.values
            )));
        }
        Ok(value)
    }

    /// A comma-separated list (`csv` variables).
    pub fn get_list(&self, name: &str) -> Result<Vec<String>, EnvError> {
        Ok(self
            .get(name)?
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    }
}

/// The handler `FLOTILLA_HANDLER` names, checked against the zip's list.
pub fn selected_handler(value: Option<&str>, zip: &str) -> Result<Function, EnvError> {
    let value = value.ok_or_else(|| EnvError(format!("{HANDLER} is not set")))?;
    let f = Function::from_name(value)
        .ok_or_else(|| EnvError(format!("{HANDLER}={value} names no handler")))?;
    if f.zip() != zip {
        return Err(EnvError(format!(
            "{HANDLER}={value} is not in {zip} (it is in {})",
            f.zip()
        )));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_read_is_in_the_contract() {
        let c = Contract::load();
        for v in ALL_VARIABLES {
            assert!(c.variables.contains_key(*v), "{v} missing from contract");
        }
        for v in c.variables.keys() {
            assert!(ALL_VARIABLES.contains(&v.as_str()), "{v} not read by Rust");
        }
        assert_eq!(c.handler_selector, HANDLER);
    }

    #[test]
    fn functions_and_zips_match_the_contract() {
        let c = Contract::load();
        assert_eq!(c.functions.len(), Function::ALL.len());
        for f in Function::ALL {
            let spec = c.function(f);
            assert_eq!(spec.zip, f.zip(), "{f}");
            assert!(c.zips[f.zip()].contains(&f.name().to_string()), "{f}");
            for v in &spec.env {
                assert!(ALL_VARIABLES.contains(&v.as_str()), "{f}: {v}");
            }
        }
        let handler = &c.variables[HANDLER];
        for f in Function::ALL {
            assert!(handler.values.contains(&f.name().to_string()));
        }
    }

    #[test]
    fn ssm_paths_are_the_ones_core_names() {
        use flotilla_core::naming;
        let c = Contract::load();
        let p = "pfx";
        let fill = |key: &str| {
            c.ssm_paths[key]
                .replace("{prefix}", p)
                .replace("{instance_id}", "i-1")
                .replace("{job_id}", "7")
                .replace("{run_attempt}", "2")
                .replace("{run_id}", "9")
        };
        assert_eq!(fill("config"), naming::config_parameter(p));
        assert_eq!(fill("runner_tokens"), naming::token_parameter(p, "i-1"));
        assert_eq!(
            fill("launch_claims"),
            naming::launch_claim_parameter(p, 7, 2)
        );
        assert_eq!(
            fill("interrupted_jobs"),
            naming::interrupted_job_parameter(p, 9, 7)
        );
        for tag in [
            flotilla_core::tags::PREFIX,
            flotilla_core::tags::OWNER,
            flotilla_core::tags::LAUNCHED_FOR,
            flotilla_core::tags::RUN_ATTEMPT,
            flotilla_core::tags::ORPHAN_SINCE,
            flotilla_core::tags::CURRENT_JOB,
            flotilla_core::tags::INTERRUPTED_AT,
            flotilla_core::tags::DEREGISTER_PENDING,
        ] {
            assert!(c.instance_tags.contains_key(tag), "{tag}");
        }
    }

    #[test]
    #[should_panic(expected = "not in contracts/lambda-env.json")]
    fn reading_a_variable_outside_the_contract_panics() {
        let env = Env::from_fn(Function::RunnerBinariesSyncer, |_| None);
        let _ = env.get(BUILD_QUEUE_URL);
    }

    #[test]
    fn defaults_required_and_enums() {
        let env = Env::from_fn(Function::Webhook, |name| match name {
            "LOG_LEVEL" => Some("loud".into()),
            _ => None,
        });
        assert_eq!(env.get(GITHUB_API_URL).unwrap(), "https://api.github.com");
        assert_eq!(env.get(JOB_ARCHIVE_BUCKET).unwrap(), "");
        assert!(env.get(BUILD_QUEUE_URL).unwrap_err().0.contains("not set"));
        assert!(env.get(LOG_LEVEL).unwrap_err().0.contains("not one of"));
        assert_eq!(
            selected_handler(Some("pool"), "runners.zip").unwrap(),
            Function::Pool
        );
        assert!(selected_handler(Some("webhook"), "runners.zip").is_err());
        assert!(selected_handler(None, "runners.zip").is_err());
    }
}
