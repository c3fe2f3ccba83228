//! The world around the policy: GitHub, EC2, the build queue, SSM.

pub mod ec2;
pub mod github;
pub mod sqs;
pub mod ssm;
