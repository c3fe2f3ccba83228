//! Building the policy's [`Fleet`] from EC2, GitHub and SSM. Reads run concurrently; a runner
//! list that cannot be read marks its owner unlisted (the policy then leaves its instances
//! alone) instead of failing the invocation.

use std::borrow::Cow;
use std::collections::BTreeSet;

use flotilla_core::model::{ClaimParameter, Fleet, Instance, Runner, RunnerOwner, TokenParameter};
use flotilla_core::naming;
use futures::future::join_all;

use crate::context::Error;
use crate::ports::{Aws, GitHub};

/// Runner lists of `owners`, concurrently.
pub async fn runners<G: GitHub>(
    github: &G,
    owners: &BTreeSet<RunnerOwner>,
) -> (Vec<Runner>, Vec<RunnerOwner>) {
    let lists = join_all(
        owners
            .iter()
            .map(|o| async move { (o, github.list_runners(o).await) }),
    )
    .await;
    let mut runners = Vec::new();
    let mut unlisted = Vec::new();
    for (owner, list) in lists {
        match list {
            Ok(mut l) => runners.append(&mut l),
            Err(e) => {
                tracing::warn!(owner = owner.tag_value(), error = %e, "runner list unreadable");
                unlisted.push(owner.clone());
            }
        }
    }
    (runners, unlisted)
}

/// Owners named by the instances' tags (any state: a terminated instance's runner may linger).
pub fn owners_of(instances: &[Instance]) -> BTreeSet<RunnerOwner> {
    instances
        .iter()
        .filter_map(|i| i.tags.owner.clone())
        .collect()
}

/// Token parameters under `/{prefix}/runners/tokens/`.
pub async fn tokens<A: Aws>(aws: &A, prefix: &str) -> Result<Vec<TokenParameter>, Error> {
    let params = aws
        .parameters_by_path(&naming::token_parameter_path(prefix))
        .await?;
    Ok(params
        .into_iter()
        .filter_map(|p| {
            let instance_id = p.name.rsplit('/').next()?.to_string();
            Some(TokenParameter {
                name: p.name,
                instance_id,
                last_modified: p.last_modified,
            })
        })
        .collect())
}

/// Launch claims under `/{prefix}/runners/launch-claims/`.
pub async fn claims<A: Aws>(aws: &A, prefix: &str) -> Result<Vec<ClaimParameter>, Error> {
    let params = aws
        .parameters_by_path(&naming::launch_claim_path(prefix))
        .await?;
    Ok(params
        .into_iter()
        .map(|p| ClaimParameter {
            name: p.name,
            claimed_at: p.last_modified,
        })
        .collect())
}

/// The whole fleet: instances, runners of their owners (plus `extra_owners`), tokens, claims.
pub async fn fleet<A: Aws, G: GitHub>(
    aws: &A,
    github: &G,
    prefix: &str,
    extra_owners: &[RunnerOwner],
    with_parameters: bool,
) -> Result<Fleet<'static>, Error> {
    let instances = aws.describe_instances(prefix, None).await?;
    let mut owners = owners_of(&instances);
    owners.extend(extra_owners.iter().cloned());
    let params = async {
        if with_parameters {
            let (t, c) = futures::join!(tokens(aws, prefix), claims(aws, prefix));
            Ok::<_, Error>((t?, c?))
        } else {
            Ok((Vec::new(), Vec::new()))
        }
    };
    let ((runners, unlisted), params) = futures::join!(runners(github, &owners), params);
    let (tokens, claims) = params?;
    Ok(Fleet {
        instances: Cow::Owned(instances),
        runners: Cow::Owned(runners),
        unlisted_owners: unlisted,
        tokens: Cow::Owned(tokens),
        claims: Cow::Owned(claims),
    })
}
