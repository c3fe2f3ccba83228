//! GitHub webhooks: signature check over the exact body bytes, and typed parsing of the events
//! the policy acts on. Nothing here panics, whatever the bytes.

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::model::{JobRef, OwnerType, QueuedJob, RepoRef};
use crate::time::Timestamp;

/// Webhook bodies larger than this are refused with 413 before any hashing. A `workflow_job`
/// payload is ~10 KB; GitHub caps deliveries at 25 MB and Lambda takes 6 MB synchronously.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Verifies `X-Hub-Signature-256: sha256=<hex>` in constant time.
pub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The header value GitHub would send for this body.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The events the policy reads, typed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WebhookEvent {
    WorkflowJob(WorkflowJobEvent),
    CheckRun(CheckRunEvent),
    WorkflowRun(WorkflowRunEvent),
    Ping,
    /// Any other event: acknowledged and ignored.
    Other {
        name: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkflowJobEvent {
    pub action: String,
    pub job_id: u64,
    pub run_id: u64,
    pub run_attempt: u32,
    pub name: String,
    pub workflow_name: String,
    pub labels: Vec<String>,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub runner_name: Option<String>,
    pub repo: RepoRef,
    pub installation_id: Option<u64>,
}

impl WorkflowJobEvent {
    pub fn queued_job(&self) -> QueuedJob {
        QueuedJob {
            job_id: self.job_id,
            run_id: self.run_id,
            run_attempt: self.run_attempt,
            repo: self.repo.clone(),
            installation_id: self.installation_id,
            labels: self.labels.clone(),
            queued_at: self.created_at,
        }
    }

    pub fn job_ref(&self) -> JobRef {
        JobRef {
            repo: self.repo.full_name(),
            run_id: self.run_id,
            job_id: self.job_id,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckRunEvent {
    pub action: String,
    /// For GitHub Actions check runs the check run id is the job id.
    pub check_run_id: u64,
    pub status: String,
    pub app_slug: Option<String>,
    pub repo: RepoRef,
    pub installation_id: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkflowRunEvent {
    pub action: String,
    pub run_id: u64,
    pub run_attempt: u32,
    pub conclusion: Option<String>,
    pub repo: RepoRef,
    pub installation_id: Option<u64>,
}

// Wire shapes: every field optional so that irregular real payloads parse, then checked. The
// strings are `Cow`s: serde fills them `Owned` (a `Cow<str>` deserializes exactly as a
// `String` does), the one-pass reader below `Borrowed` from the body.
#[derive(Deserialize, Default)]
struct WireRepoOwner<'a> {
    login: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct WireRepo<'a> {
    name: Option<Cow<'a, str>>,
    full_name: Option<Cow<'a, str>>,
    owner: Option<WireRepoOwner<'a>>,
}

#[derive(Deserialize, Default)]
struct WireInstallation {
    id: Option<u64>,
}

#[derive(Deserialize, Default)]
struct WireJob<'a> {
    id: Option<u64>,
    run_id: Option<u64>,
    run_attempt: Option<u32>,
    name: Option<Cow<'a, str>>,
    workflow_name: Option<Cow<'a, str>>,
    labels: Option<Vec<Cow<'a, str>>>,
    status: Option<Cow<'a, str>>,
    conclusion: Option<Cow<'a, str>>,
    created_at: Option<Cow<'a, str>>,
    started_at: Option<Cow<'a, str>>,
    completed_at: Option<Cow<'a, str>>,
    runner_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct WireApp<'a> {
    slug: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct WireCheckRun<'a> {
    id: Option<u64>,
    status: Option<Cow<'a, str>>,
    app: Option<WireApp<'a>>,
}

#[derive(Deserialize, Default)]
struct WireRun<'a> {
    id: Option<u64>,
    run_attempt: Option<u32>,
    conclusion: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct WireEnvelope<'a> {
    action: Option<Cow<'a, str>>,
    repository: Option<WireRepo<'a>>,
    installation: Option<WireInstallation>,
    workflow_job: Option<WireJob<'a>>,
    check_run: Option<WireCheckRun<'a>>,
    workflow_run: Option<WireRun<'a>>,
}

fn repo_of(env: &WireEnvelope) -> Result<RepoRef, String> {
    let repo = env
        .repository
        .as_ref()
        .ok_or("the payload has no `repository`")?;
    let owner = repo.owner.as_ref();
    let (owner_login, name) = match (
        owner.and_then(|o| o.login.as_deref()),
        repo.name.as_deref(),
        repo.full_name.as_deref(),
    ) {
        (Some(o), Some(n), _) => (o, n),
        (_, _, Some(full)) => match full.split_once('/') {
            Some((o, n)) => (o, n),
            None => return Err(format!("`repository.full_name` `{full}` is not owner/name")),
        },
        _ => return Err("`repository` lacks owner and name".into()),
    };
    if owner_login.is_empty() || name.is_empty() {
        return Err("`repository` has an empty owner or name".into());
    }
    let owner_type = match owner.and_then(|o| o.kind.as_deref()) {
        Some("User") => OwnerType::User,
        _ => OwnerType::Organization,
    };
    Ok(RepoRef {
        owner: owner_login.to_string(),
        name: name.to_string(),
        owner_type,
    })
}

fn time_of(field: &str, value: &Option<Cow<'_, str>>) -> Result<Option<Timestamp>, String> {
    match value {
        None => Ok(None),
        Some(v) => Timestamp::parse_rfc3339(v)
            .map(Some)
            .map_err(|e| format!("`{field}`: {e}")),
    }
}

fn owned(value: &Option<Cow<'_, str>>) -> Option<String> {
    value.as_deref().map(str::to_string)
}

/// Checks that `body` is one JSON value, accepting exactly what parsing it into a
/// `serde_json::Value` accepts (the same parser paths: strings are decoded and UTF-8 checked,
/// numbers range-checked, nesting bounded), and failing with the same error — but without
/// building the value: no allocation, several times faster on a 10 KB payload.
///
/// The one-pass reader ([`Reader`]) answers first: what it accepts, a `Value` parse accepts
/// (it is stricter); anything else, error or not, serde_json decides, so errors are its own.
pub fn check_json(body: &[u8]) -> Result<(), serde_json::Error> {
    if Reader::valid(body) {
        return Ok(());
    }
    serde_json::from_slice::<Checked>(body).map(|_| ())
}

/// Appends `body` to `out` without the whitespace between its tokens (strings copied as they
/// are) and answers true, when the one-pass reader vouches for it as JSON, that is when
/// [`check_json`] accepts it without asking serde_json. Otherwise false, `out` unchanged: the
/// caller asks [`check_json`]. One pass where checking, then compacting took two.
pub fn append_compact(body: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(mut r) = Reader::new(body) else {
        return false;
    };
    let len = out.len();
    r.compact = Some(std::mem::take(out));
    r.ws();
    let valid = r.value(0).is_some() && r.end();
    let mut compacted = r.compact.take().unwrap_or_default();
    if valid {
        compacted.extend_from_slice(&body[r.copied..]);
    } else {
        compacted.truncate(len);
    }
    *out = compacted;
    valid
}

/// A JSON value parsed and dropped as it goes (see [`check_json`]).
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// Parses a delivery by its `X-GitHub-Event` name. Errors say what is missing, for the 400.
///
/// One pass over the body when it is plain JSON ([`Reader`]): the fields read are borrowed,
/// everything else is checked and skipped. What the reader does not vouch for (an error, a
/// field of an unexpected type, a duplicate or escaped field name, ...) goes to serde_json, whose
/// answer, error message included, is the answer.
pub fn parse_event(event: &str, body: &[u8]) -> Result<WebhookEvent, String> {
    match event {
        "workflow_job" | "check_run" | "workflow_run" => {}
        "ping" => {
            check_json(body).map_err(|e| format!("body is not JSON: {e}"))?;
            return Ok(WebhookEvent::Ping);
        }
        other => {
            if !Reader::valid(body) {
                serde_json::from_slice::<serde::de::IgnoredAny>(body)
                    .map_err(|e| format!("body is not JSON: {e}"))?;
            }
            return Ok(WebhookEvent::Other {
                name: other.to_string(),
            });
        }
    }
    let env: WireEnvelope = match Reader::envelope(body) {
        Some(env) => env,
        None => serde_json::from_slice(body)
            .map_err(|e| format!("body is not a {event} payload: {e}"))?,
    };
    let action =
        owned(&env.action).ok_or_else(|| format!("the {event} payload has no `action`"))?;
    let installation_id = env.installation.as_ref().and_then(|i| i.id);
    match event {
        "workflow_job" => {
            let job = env
                .workflow_job
                .as_ref()
                .ok_or("the workflow_job payload has no `workflow_job`")?;
            let repo = repo_of(&env)?;
            Ok(WebhookEvent::WorkflowJob(WorkflowJobEvent {
                action,
                job_id: job.id.ok_or("`workflow_job.id` is missing")?,
                run_id: job.run_id.ok_or("`workflow_job.run_id` is missing")?,
                run_attempt: job.run_attempt.unwrap_or(1),
                name: owned(&job.name).unwrap_or_default(),
                workflow_name: owned(&job.workflow_name).unwrap_or_default(),
                labels: job
                    .labels
                    .as_ref()
                    .map(|l| l.iter().map(|s| s.to_string()).collect())
                    .ok_or("`workflow_job.labels` is missing")?,
                status: owned(&job.status).unwrap_or_default(),
                conclusion: owned(&job.conclusion),
                created_at: time_of("workflow_job.created_at", &job.created_at)?,
                started_at: time_of("workflow_job.started_at", &job.started_at)?,
                completed_at: time_of("workflow_job.completed_at", &job.completed_at)?,
                runner_name: owned(&job.runner_name).filter(|n| !n.is_empty()),
                repo,
                installation_id,
            }))
        }
        "check_run" => {
            let run = env
                .check_run
                .as_ref()
                .ok_or("the check_run payload has no `check_run`")?;
            Ok(WebhookEvent::CheckRun(CheckRunEvent {
                action,
                check_run_id: run.id.ok_or("`check_run.id` is missing")?,
                status: owned(&run.status).unwrap_or_default(),
                app_slug: run.app.as_ref().and_then(|a| owned(&a.slug)),
                repo: repo_of(&env)?,
                installation_id,
            }))
        }
        _ => {
            let run = env
                .workflow_run
                .as_ref()
                .ok_or("the workflow_run payload has no `workflow_run`")?;
            Ok(WebhookEvent::WorkflowRun(WorkflowRunEvent {
                action,
                run_id: run.id.ok_or("`workflow_run.id` is missing")?,
                run_attempt: run.run_attempt.unwrap_or(1),
                conclusion: owned(&run.conclusion),
                repo: repo_of(&env)?,
                installation_id,
            }))
        }
    }
}

/// The one-pass JSON reader behind [`check_json`] and [`parse_event`]: stricter than serde_json,
/// never looser. It vouches for a body only when a `serde_json::Value` parse would accept it:
/// UTF-8 throughout, escapes valid (surrogates paired), no control character in a string,
/// numbers plain enough that their range is not in question (no exponent, at most 19 integer
/// digits), at most [`Reader::MAX_DEPTH`] levels. Everything it does not vouch for (`None`) goes
/// to serde_json, which then answers, so every error is serde_json's own.
struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// With [`append_compact`]: the body copied here without the whitespace between tokens,
    /// up to `copied`.
    compact: Option<Vec<u8>>,
    copied: usize,
}

/// Index of an envelope field, for duplicate detection (serde refuses duplicate struct fields).
type Seen = u32;

impl<'a> Reader<'a> {
    /// Under serde_json's own limit (128), so nesting never decides an answer here.
    const MAX_DEPTH: usize = 100;

    fn new(body: &'a [u8]) -> Option<Reader<'a>> {
        let text = std::str::from_utf8(body).ok()?;
        Some(Reader {
            text,
            bytes: body,
            at: 0,
            compact: None,
            copied: 0,
        })
    }

    /// Whether `body` is one JSON value that a `serde_json::Value` parse accepts.
    fn valid(body: &[u8]) -> bool {
        let Some(mut r) = Reader::new(body) else {
            return false;
        };
        r.ws();
        r.value(0).is_some() && r.end()
    }

    /// The envelope serde would deserialize, when the body is valid JSON and every field the
    /// envelope reads has its plain shape (`null` or the expected type).
    fn envelope(body: &'a [u8]) -> Option<WireEnvelope<'a>> {
        let mut r = Reader::new(body)?;
        let mut env = WireEnvelope::default();
        r.ws();
        r.object(0, true, |r, key, depth| {
            Some(match key {
                b"action" => {
                    env.action = r.opt_str()?;
                    0
                }
                b"repository" => {
                    env.repository =
                        r.opt_struct(depth, |r, repo: &mut WireRepo<'a>, key, d| {
                            Some(match key {
                                b"name" => {
                                    repo.name = r.opt_str()?;
                                    0
                                }
                                b"full_name" => {
                                    repo.full_name = r.opt_str()?;
                                    1
                                }
                                b"owner" => {
                                    repo.owner =
                                        r.opt_struct(d, |r, o: &mut WireRepoOwner<'a>, k, od| {
                                            Some(match k {
                                                b"login" => {
                                                    o.login = r.opt_str()?;
                                                    0
                                                }
                                                b"type" => {
                                                    o.kind = r.opt_str()?;
                                                    1
                                                }
                                                _ => r.skip(od)?,
                                            })
                                        })?;
                                    2
                                }
                                _ => r.skip(d)?,
                            })
                        })?;
                    1
                }
                b"installation" => {
                    env.installation =
                        r.opt_struct(depth, |r, i: &mut WireInstallation, key, d| {
                            Some(match key {
                                b"id" => {
                                    i.id = r.opt_uint(u64::MAX)?;
                                    0
                                }
                                _ => r.skip(d)?,
                            })
                        })?;
                    2
                }
                b"workflow_job" => {
                    env.workflow_job = r.opt_struct(depth, |r, j: &mut WireJob<'a>, key, d| {
                        Some(match key {
                            b"id" => {
                                j.id = r.opt_uint(u64::MAX)?;
                                0
                            }
                            b"run_id" => {
                                j.run_id = r.opt_uint(u64::MAX)?;
                                1
                            }
                            b"run_attempt" => {
                                j.run_attempt = r.opt_uint(u32::MAX.into())?.map(|n| n as u32);
                                2
                            }
                            b"name" => {
                                j.name = r.opt_str()?;
                                3
                            }
                            b"workflow_name" => {
                                j.workflow_name = r.opt_str()?;
                                4
                            }
                            b"labels" => {
                                j.labels = r.opt_strings()?;
                                5
                            }
                            b"status" => {
                                j.status = r.opt_str()?;
                                6
                            }
                            b"conclusion" => {
                                j.conclusion = r.opt_str()?;
                                7
                            }
                            b"created_at" => {
                                j.created_at = r.opt_str()?;
                                8
                            }
                            b"started_at" => {
                                j.started_at = r.opt_str()?;
                                9
                            }
                            b"completed_at" => {
                                j.completed_at = r.opt_str()?;
                                10
                            }
                            b"runner_name" => {
                                j.runner_name = r.opt_str()?;
                                11
                            }
                            _ => r.skip(d)?,
                        })
                    })?;
                    3
                }
                b"check_run" => {
                    env.check_run =
                        r.opt_struct(depth, |r, c: &mut WireCheckRun<'a>, key, d| {
                            Some(match key {
                                b"id" => {
                                    c.id = r.opt_uint(u64::MAX)?;
                                    0
                                }
                                b"status" => {
                                    c.status = r.opt_str()?;
                                    1
                                }
                                b"app" => {
                                    c.app = r.opt_struct(d, |r, a: &mut WireApp<'a>, k, ad| {
                                        Some(match k {
                                            b"slug" => {
                                                a.slug = r.opt_str()?;
                                                0
                                            }
                                            _ => r.skip(ad)?,
                                        })
                                    })?;
                                    2
                                }
                                _ => r.skip(d)?,
                            })
                        })?;
                    4
                }
                b"workflow_run" => {
                    env.workflow_run = r.opt_struct(depth, |r, w: &mut WireRun<'a>, key, d| {
                        Some(match key {
                            b"id" => {
                                w.id = r.opt_uint(u64::MAX)?;
                                0
                            }
                            b"run_attempt" => {
                                w.run_attempt = r.opt_uint(u32::MAX.into())?.map(|n| n as u32);
                                1
                            }
                            b"conclusion" => {
                                w.conclusion = r.opt_str()?;
                                2
                            }
                            _ => r.skip(d)?,
                        })
                    })?;
                    5
                }
                _ => r.skip(depth)?,
            })
        })?;
        r.end().then_some(env)
    }

    /// A field the caller does not read: checked and skipped. Never a duplicate.
    fn skip(&mut self, depth: usize) -> Option<Seen> {
        self.value(depth)?;
        Some(Seen::MAX)
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Whitespace, if any: the common no-whitespace case inline, the rest out of line.
    #[inline(always)]
    fn ws(&mut self) {
        if let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.ws_run();
        }
    }

    #[inline(never)]
    fn ws_run(&mut self) {
        let start = self.at;
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
            // Indentation: spaces eight at a time.
            while let Some(chunk) = self.bytes.get(self.at..self.at + 8) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let other = u64::from_le_bytes(word) ^ 0x2020_2020_2020_2020;
                if other != 0 {
                    self.at += (other.trailing_zeros() / 8) as usize;
                    break;
                }
                self.at += 8;
            }
        }
        if self.at != start {
            if let Some(out) = &mut self.compact {
                out.extend_from_slice(&self.bytes[self.copied..start]);
                self.copied = self.at;
            }
        }
    }

    /// Only whitespace left.
    fn end(&mut self) -> bool {
        self.ws();
        self.at == self.bytes.len()
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes.get(self.at..self.at + word.len())? == word {
            self.at += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Any value, at `depth` levels of nesting already.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.object(depth, false, |r, _, d| r.skip(d)),
            b'[' => {
                if depth >= Self::MAX_DEPTH {
                    return None;
                }
                self.at += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.at += 1;
                            self.ws();
                        }
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            _ => None,
        }
    }

    /// An object at the reader's position; `field(reader, key, depth)` reads each value (the
    /// reader is then at the value) and answers the field's index, or [`Seen::MAX`] for a field
    /// that may repeat. With `fields` (a struct's fields, not a skipped object), a key with an
    /// escape, which serde would decode before matching field names, is not vouched for.
    fn object(
        &mut self,
        depth: usize,
        fields: bool,
        mut field: impl FnMut(&mut Self, &'a [u8], usize) -> Option<Seen>,
    ) -> Option<()> {
        if depth >= Self::MAX_DEPTH || self.peek()? != b'{' {
            return None;
        }
        self.at += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut seen: u64 = 0;
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let (key, escaped) = self.string()?;
            if escaped && fields {
                return None;
            }
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            self.ws();
            let index = field(self, key.as_bytes(), depth + 1)?;
            if index != Seen::MAX {
                if seen & (1u64 << index) != 0 {
                    return None;
                }
                seen |= 1 << index;
            }
            self.ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.ws();
                }
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` or an object of `T`'s fields (serde also takes an array for a struct: not here).
    fn opt_struct<T: Default>(
        &mut self,
        depth: usize,
        mut field: impl FnMut(&mut Self, &mut T, &'a [u8], usize) -> Option<Seen>,
    ) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        let mut value = T::default();
        self.object(depth, true, |r, key, d| field(r, &mut value, key, d))?;
        Some(Some(value))
    }

    /// `null` or a string without escapes (serde would decode them: not here).
    fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'n' => {
                self.literal(b"null")?;
                Some(None)
            }
            b'"' => match self.string()? {
                (s, false) => Some(Some(Cow::Borrowed(s))),
                (_, true) => None,
            },
            _ => None,
        }
    }

    /// `null` or an array of strings without escapes.
    fn opt_strings(&mut self) -> Option<Option<Vec<Cow<'a, str>>>> {
        match self.peek()? {
            b'n' => {
                self.literal(b"null")?;
                Some(None)
            }
            b'[' => {
                self.at += 1;
                let mut out = Vec::new();
                self.ws();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(Some(out));
                }
                loop {
                    out.push(self.opt_str()??);
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.at += 1;
                            self.ws();
                        }
                        b']' => {
                            self.at += 1;
                            return Some(Some(out));
                        }
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// `null` or a plain non-negative integer up to `max`.
    fn opt_uint(&mut self, max: u64) -> Option<Option<u64>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        match self.number()? {
            Some(n) if n <= max => Some(Some(n)),
            _ => None,
        }
    }

    /// A number; its value when it is a non-negative integer that fits a u64 (no fraction).
    fn number(&mut self) -> Option<Option<u64>> {
        let negative = self.peek()? == b'-';
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let mut value: u64 = 0;
        let mut fits = true;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    match value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(d - b'0')))
                    {
                        Some(v) => value = v,
                        None => fits = false,
                    }
                    self.at += 1;
                }
            }
            _ => return None,
        }
        if self.at - start > 19 {
            return None;
        }
        let mut integer = !negative && fits;
        if self.peek() == Some(b'.') {
            self.at += 1;
            let digits = self.at;
            while let Some(b'0'..=b'9') = self.peek() {
                self.at += 1;
            }
            if self.at == digits {
                return None;
            }
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            return None;
        }
        Some(integer.then_some(value))
    }

    /// A string at the reader's position (at its `"`): its raw text, and whether it has escapes.
    fn string(&mut self) -> Option<(&'a str, bool)> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        loop {
            // Eight bytes at a time to the next `"`, `\` or control character.
            while let Some(chunk) = self.bytes.get(self.at..self.at + 8) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let found = special_bytes(u64::from_le_bytes(word));
                if found != 0 {
                    self.at += (found.trailing_zeros() / 8) as usize;
                    break;
                }
                self.at += 8;
            }
            match self.peek()? {
                b'"' => {
                    // Both ends are ASCII quotes: char boundaries of the UTF-8 text.
                    let s = self.text.get(start..self.at)?;
                    self.at += 1;
                    return Some((s, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.at += 1;
                    self.escape()?;
                }
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }

    /// After a `\`: a valid escape; `\u` surrogates only as a high-low pair.
    fn escape(&mut self) -> Option<()> {
        let c = self.peek()?;
        self.at += 1;
        match c {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => match self.hex4()? {
                0xD800..=0xDBFF => {
                    self.literal(b"\\u")?;
                    match self.hex4()? {
                        0xDC00..=0xDFFF => Some(()),
                        _ => None,
                    }
                }
                0xDC00..=0xDFFF => None,
                _ => Some(()),
            },
            _ => None,
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        let mut n = 0u16;
        for &d in digits {
            n = n * 16 + (d as char).to_digit(16)? as u16;
        }
        self.at += 4;
        Some(n)
    }
}

/// The high bit of each byte of `word` that is `"`, `\` or below 0x20 is set — exactly for the
/// lowest such byte; bytes above it may be flagged by a borrow, so only the lowest is used.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    quote | backslash | control
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde-only parse as it was before the one-pass reader, verbatim (but for `ping`,
    /// checked with a `Value` parse, which `check_json`'s own test holds it to): the reference
    /// the reader's answers are compared with.
    mod reference {
        use serde::Deserialize;

        use super::super::{CheckRunEvent, WebhookEvent, WorkflowJobEvent, WorkflowRunEvent};
        use crate::model::{OwnerType, RepoRef};
        use crate::time::Timestamp;

        // Wire shapes: every field optional so that irregular real payloads parse, then checked.
        #[derive(Deserialize)]
        struct WireRepoOwner {
            login: Option<String>,
            #[serde(rename = "type")]
            kind: Option<String>,
        }

        #[derive(Deserialize)]
        struct WireRepo {
            name: Option<String>,
            full_name: Option<String>,
            owner: Option<WireRepoOwner>,
        }

        #[derive(Deserialize)]
        struct WireInstallation {
            id: Option<u64>,
        }

        #[derive(Deserialize)]
        struct WireJob {
            id: Option<u64>,
            run_id: Option<u64>,
            run_attempt: Option<u32>,
            name: Option<String>,
            workflow_name: Option<String>,
            labels: Option<Vec<String>>,
            status: Option<String>,
            conclusion: Option<String>,
            created_at: Option<String>,
            started_at: Option<String>,
            completed_at: Option<String>,
            runner_name: Option<String>,
        }

        #[derive(Deserialize)]
        struct WireApp {
            slug: Option<String>,
        }

        #[derive(Deserialize)]
        struct WireCheckRun {
            id: Option<u64>,
            status: Option<String>,
            app: Option<WireApp>,
        }

        #[derive(Deserialize)]
        struct WireRun {
            id: Option<u64>,
            run_attempt: Option<u32>,
            conclusion: Option<String>,
        }

        #[derive(Deserialize)]
        struct WireEnvelope {
            action: Option<String>,
            repository: Option<WireRepo>,
            installation: Option<WireInstallation>,
            workflow_job: Option<WireJob>,
            check_run: Option<WireCheckRun>,
            workflow_run: Option<WireRun>,
        }

        fn repo_of(env: &WireEnvelope) -> Result<RepoRef, String> {
            let repo = env
                .repository
                .as_ref()
                .ok_or("the payload has no `repository`")?;
            let owner = repo.owner.as_ref();
            let (owner_login, name) = match (
                owner.and_then(|o| o.login.clone()),
                repo.name.clone(),
                repo.full_name.as_deref(),
            ) {
                (Some(o), Some(n), _) => (o, n),
                (_, _, Some(full)) => match full.split_once('/') {
                    Some((o, n)) => (o.to_string(), n.to_string()),
                    None => {
                        return Err(format!("`repository.full_name` `{full}` is not owner/name"))
                    }
                },
                _ => return Err("`repository` lacks owner and name".into()),
            };
            if owner_login.is_empty() || name.is_empty() {
                return Err("`repository` has an empty owner or name".into());
            }
            let owner_type = match owner.and_then(|o| o.kind.as_deref()) {
                Some("User") => OwnerType::User,
                _ => OwnerType::Organization,
            };
            Ok(RepoRef {
                owner: owner_login,
                name,
                owner_type,
            })
        }

        fn time_of(field: &str, value: &Option<String>) -> Result<Option<Timestamp>, String> {
            match value {
                None => Ok(None),
                Some(v) => Timestamp::parse_rfc3339(v)
                    .map(Some)
                    .map_err(|e| format!("`{field}`: {e}")),
            }
        }

        /// Parses a delivery by its `X-GitHub-Event` name. Errors say what is missing, for the 400.
        pub fn parse_event(event: &str, body: &[u8]) -> Result<WebhookEvent, String> {
            match event {
                "workflow_job" | "check_run" | "workflow_run" => {}
                "ping" => {
                    serde_json::from_slice::<serde_json::Value>(body)
                        .map_err(|e| format!("body is not JSON: {e}"))?;
                    return Ok(WebhookEvent::Ping);
                }
                other => {
                    serde_json::from_slice::<serde::de::IgnoredAny>(body)
                        .map_err(|e| format!("body is not JSON: {e}"))?;
                    return Ok(WebhookEvent::Other {
                        name: other.to_string(),
                    });
                }
            }
            let env: WireEnvelope = serde_json::from_slice(body)
                .map_err(|e| format!("body is not a {event} payload: {e}"))?;
            let action = env
                .action
                .clone()
                .ok_or_else(|| format!("the {event} payload has no `action`"))?;
            let installation_id = env.installation.as_ref().and_then(|i| i.id);
            match event {
                "workflow_job" => {
                    let job = env
                        .workflow_job
                        .as_ref()
                        .ok_or("the workflow_job payload has no `workflow_job`")?;
                    let repo = repo_of(&env)?;
                    Ok(WebhookEvent::WorkflowJob(WorkflowJobEvent {
                        action,
                        job_id: job.id.ok_or("`workflow_job.id` is missing")?,
                        run_id: job.run_id.ok_or("`workflow_job.run_id` is missing")?,
                        run_attempt: job.run_attempt.unwrap_or(1),
                        name: job.name.clone().unwrap_or_default(),
                        workflow_name: job.workflow_name.clone().unwrap_or_default(),
                        labels: job
                            .labels
                            .clone()
                            .ok_or("`workflow_job.labels` is missing")?,
                        status: job.status.clone().unwrap_or_default(),
                        conclusion: job.conclusion.clone(),
                        created_at: time_of("workflow_job.created_at", &job.created_at)?,
                        started_at: time_of("workflow_job.started_at", &job.started_at)?,
                        completed_at: time_of("workflow_job.completed_at", &job.completed_at)?,
                        runner_name: job.runner_name.clone().filter(|n| !n.is_empty()),
                        repo,
                        installation_id,
                    }))
                }
                "check_run" => {
                    let run = env
                        .check_run
                        .as_ref()
                        .ok_or("the check_run payload has no `check_run`")?;
                    Ok(WebhookEvent::CheckRun(CheckRunEvent {
                        action,
                        check_run_id: run.id.ok_or("`check_run.id` is missing")?,
                        status: run.status.clone().unwrap_or_default(),
                        app_slug: run.app.as_ref().and_then(|a| a.slug.clone()),
                        repo: repo_of(&env)?,
                        installation_id,
                    }))
                }
                _ => {
                    let run = env
                        .workflow_run
                        .as_ref()
                        .ok_or("the workflow_run payload has no `workflow_run`")?;
                    Ok(WebhookEvent::WorkflowRun(WorkflowRunEvent {
                        action,
                        run_id: run.id.ok_or("`workflow_run.id` is missing")?,
                        run_attempt: run.run_attempt.unwrap_or(1),
                        conclusion: run.conclusion.clone(),
                        repo: repo_of(&env)?,
                        installation_id,
                    }))
                }
            }
        }
    }

    #[test]
    fn signatures_verify_only_for_the_exact_bytes_and_secret() {
        let body = br#"{"a":1}"#;
        let sig = sign(b"s3cret", body);
        assert!(verify_signature(b"s3cret", body, &sig));
        assert!(!verify_signature(b"other", body, &sig));
        assert!(!verify_signature(b"s3cret", br#"{"a": 1}"#, &sig));
        assert!(!verify_signature(b"s3cret", body, "sha1=abc"));
        assert!(!verify_signature(b"s3cret", body, "sha256=zz"));
        assert!(!verify_signature(b"s3cret", body, ""));
        // GitHub's documented example.
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn workflow_job_parses() {
        let body = br#"{"action":"queued","workflow_job":{"id":5,"run_id":9,"labels":["self-hosted","Linux"],"status":"queued","created_at":"2025-09-04T17:25:47Z"},"repository":{"name":"r","owner":{"login":"o","type":"User"}},"installation":{"id":3}}"#;
        let WebhookEvent::WorkflowJob(ev) = parse_event("workflow_job", body).unwrap() else {
            panic!("not a workflow_job");
        };
        assert_eq!(ev.job_id, 5);
        assert_eq!(ev.run_attempt, 1);
        assert_eq!(ev.repo.full_name(), "o/r");
        assert_eq!(ev.repo.owner_type, OwnerType::User);
        assert_eq!(ev.installation_id, Some(3));
        assert_eq!(ev.queued_job().labels, vec!["self-hosted", "Linux"]);
    }

    /// `check_json` answers as a `serde_json::Value` parse would, error message included.
    fn same_as_value(body: &[u8]) {
        let value = serde_json::from_slice::<serde_json::Value>(body)
            .map(|_| ())
            .map_err(|e| e.to_string());
        let checked = check_json(body).map_err(|e| e.to_string());
        assert_eq!(checked, value, "{:?}", String::from_utf8_lossy(body));
    }

    #[test]
    fn check_json_accepts_and_refuses_what_a_value_parse_does() {
        let deep_ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let too_deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        let cases: Vec<&[u8]> = vec![
            b"",
            b" ",
            b"null",
            b"{}",
            b"[]",
            b"{\"a\":1,\"a\":2}",
            b"{\"a\":[1,-2,3.5,1e10,true,false,null,\"x\"]}\n",
            b"{\"a\":1} x",
            b"{\"a\":1,}",
            b"[1,]",
            b"{\"a\" 1}",
            b"{1:2}",
            b"\"\\ud800\"",
            b"\"\\udc00\"",
            b"\"\\ud83d\\ude00\"",
            b"{\"\\ud800\":1}",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"a\nb\"",
            b"\"\xff\"",
            b"{\"\xc3\x28\":1}",
            b"\"\xc3\xa9\"",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"18446744073709551616",
            b"-9223372036854775809",
            b"01",
            b"1.",
            b"-",
            b".5",
            b"tru",
            b"nul",
            b"[\"unterminated",
            deep_ok.as_bytes(),
            too_deep.as_bytes(),
        ];
        for case in cases {
            same_as_value(case);
        }
    }

    #[test]
    fn check_json_agrees_with_a_value_parse_on_every_real_payload_and_its_cuts() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/webhooks");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("SKIPPED: {} is absent", dir.display());
            return;
        };
        for e in entries {
            let body = std::fs::read(e.unwrap().path()).unwrap();
            same_as_value(&body);
            for cut in (0..body.len()).step_by(97) {
                same_as_value(&body[..cut]);
                let mut flipped = body.clone();
                flipped[cut] ^= 0x80;
                same_as_value(&flipped);
            }
        }
    }

    /// The real payloads, as stored (pretty-printed) and compact (as GitHub sends them).
    fn real_payloads() -> Vec<(String, Vec<u8>)> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/webhooks");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("SKIPPED: {} is absent", dir.display());
            return Vec::new();
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        let mut out = Vec::new();
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let body = std::fs::read(&path).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            out.push((
                format!("{name} (compact)"),
                serde_json::to_vec(&value).unwrap(),
            ));
            out.push((name, body));
        }
        out
    }

    /// Deterministic variants of `body`: cuts, changed, inserted and deleted bytes, and edits
    /// aimed at the fields the reader reads (other types and values, duplicates, escapes).
    fn variants(body: &[u8], seed: u64) -> Vec<Vec<u8>> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out = Vec::new();
        let alphabet: &[&[u8]] = &[
            b"{",
            b"}",
            b"[",
            b"]",
            b",",
            b":",
            b"\"",
            b"\\",
            b" ",
            b"\n",
            b"0",
            b"-",
            b"1",
            b".",
            b"e",
            b"E",
            b"+",
            b"t",
            b"n",
            b"x",
            b"\x00",
            b"\x1f",
            b"\xff",
            b"\xc3\xa9",
            b"\\u",
            b"\\ud800",
            b"\\udc00",
            b"\\ud83d\\ude00",
            b"\\n",
            b"\\x",
            b"null",
            b"\"a\"",
        ];
        for _ in 0..120 {
            let mut v = body.to_vec();
            let at = next() as usize % (v.len() + 1);
            match next() % 5 {
                0 => v.truncate(at),
                1 if at < v.len() => v[at] ^= 1 << (next() % 8),
                2 => {
                    let piece = alphabet[next() as usize % alphabet.len()];
                    v.splice(at..at, piece.iter().copied());
                }
                3 => {
                    let end = (at + 1 + next() as usize % 40).min(v.len());
                    v.drain(at.min(end)..end);
                }
                _ => {
                    let piece = alphabet[next() as usize % alphabet.len()];
                    let end = (at + piece.len()).min(v.len());
                    v.splice(at..end, piece.iter().copied());
                }
            }
            out.push(v);
        }
        let values: &[&str] = &[
            "null",
            "\"x\"",
            "\"a\\\"b\"",
            "\"\\u0041\"",
            "\"\"",
            "\"o/r\"",
            "\"User\"",
            "\"github-actions\"",
            "\"2025-09-04T17:25:47Z\"",
            "\"not a time\"",
            "5",
            "0",
            "-1",
            "-0",
            "1.5",
            "1e2",
            "4294967295",
            "4294967296",
            "18446744073709551615",
            "18446744073709551616",
            "[]",
            "[\"a\",1]",
            "[\"a\",null]",
            "[\"a\",\"b\\u0063\"]",
            "{}",
            "{\"id\":1}",
            "{\"login\":\"o\",\"type\":\"User\"}",
            "[1,2]",
            "true",
        ];
        let keys: &[&str] = &[
            "action",
            "id",
            "run_id",
            "run_attempt",
            "name",
            "full_name",
            "owner",
            "login",
            "type",
            "repository",
            "installation",
            "workflow_job",
            "labels",
            "status",
            "conclusion",
            "created_at",
            "started_at",
            "completed_at",
            "runner_name",
            "check_run",
            "app",
            "slug",
            "workflow_run",
            "workflow_name",
        ];
        for key in keys {
            let needle = format!("\"{key}\":");
            let spaced = format!("\"{key}\": ");
            let hits: Vec<usize> = (0..body.len())
                .filter(|&i| {
                    body[i..].starts_with(needle.as_bytes())
                        || body[i..].starts_with(spaced.as_bytes())
                })
                .take(3)
                .collect();
            for &hit in &hits {
                let colon = hit + needle.len();
                let mut r = Reader::new(body).unwrap();
                r.at = colon;
                r.ws();
                let start = r.at;
                if r.value(0).is_none() {
                    continue;
                }
                let end = r.at;
                for _ in 0..4 {
                    let value = values[next() as usize % values.len()];
                    let mut v = body.to_vec();
                    v.splice(start..end, value.bytes());
                    out.push(v);
                }
                // The key escaped (serde decodes it, then matches the field).
                let mut v = body.to_vec();
                v.splice(
                    hit + 1..hit + 2,
                    format!("\\u{:04x}", key.as_bytes()[0]).bytes(),
                );
                out.push(v);
            }
            // A duplicate, first or last among the top-level fields.
            if let Some(open) = body.iter().position(|&c| c == b'{') {
                let value = values[next() as usize % values.len()];
                let mut v = body.to_vec();
                v.splice(open + 1..open + 1, format!("\"{key}\":{value},").bytes());
                out.push(v);
            }
            if let Some(close) = body.iter().rposition(|&c| c == b'}') {
                let value = values[next() as usize % values.len()];
                let mut v = body.to_vec();
                v.splice(close..close, format!(",\"{key}\":{value}").bytes());
                out.push(v);
            }
        }
        out
    }

    /// The reader's answers are serde's, errors included: every real payload, pretty and
    /// compact, and thousands of variants, read as each kind of event, and `check_json` as a
    /// `Value` parse.
    #[test]
    fn one_pass_reader_answers_as_serde_on_every_real_payload_and_variants() {
        let events = ["workflow_job", "check_run", "workflow_run", "ping", "push"];
        let mut compared = 0;
        let mut vouched = 0;
        for (i, (name, body)) in real_payloads().into_iter().enumerate() {
            let mut all = vec![body.clone()];
            all.extend(variants(&body, 0x9e37_79b9_7f4a_7c15 ^ i as u64));
            for v in &all {
                for event in events {
                    assert_eq!(
                        parse_event(event, v),
                        reference::parse_event(event, v),
                        "{name} as {event}: {:?}",
                        String::from_utf8_lossy(v)
                    );
                    compared += 1;
                }
                same_as_value(v);
                if Reader::envelope(v).is_some() {
                    vouched += 1;
                }
            }
        }
        if compared > 0 {
            assert!(compared > 50_000, "{compared}");
            // The plain payloads go through the reader, not the fallback.
            assert!(vouched > 1_000, "{vouched}");
        }
    }

    #[test]
    fn one_pass_reader_edge_cases() {
        let cases: &[&[u8]] = &[
            br#"{"action":"queued","action":"queued"}"#,
            br#"{"acti\u006fn":"queued","workflow_job":{"id":1,"run_id":2,"labels":[]},"repository":{"full_name":"o/r"}}"#,
            br#"{"action":"queued","workflow_job":{"id":1,"run_id":2,"labels":["a\"b"]},"repository":{"full_name":"o/r"}}"#,
            br#"{"action":"queued","workflow_job":{"id":1.0,"run_id":2,"labels":[]},"repository":{"full_name":"o/r"}}"#,
            br#"{"action":"queued","workflow_job":{"id":1,"run_id":2,"run_attempt":4294967296,"labels":[]},"repository":{"full_name":"o/r"}}"#,
            br#"{"action":"queued","workflow_job":[1,2,3],"repository":{"full_name":"o/r"}}"#,
            br#"{"action":"queued","workflow_job":{"id":1,"run_id":2,"labels":[]},"repository":["n","o/r"]}"#,
            br#"{"action":"queued","workflow_job":{"id":1,"run_id":2,"labels":[]},"repository":{"full_name":"o/r"},"x":{"\u0041":1e400}}"#,
            br#"{"action":"queued","workflow_job":{"id":1,"run_id":2,"labels":[]},"repository":{"full_name":"o/r"},"x":"\ud800"}"#,
            br#"{"action":"queued","workflow_job":{"id":1,"run_id":2,"labels":[]},"repository":{"full_name":"o/r"},"x":"\ud83d\ude00"}"#,
            b"{\"action\":\"queued\",\"x\":\"\xff\"}",
            b"{\"action\":\"queued\",\"x\":\"a\tb\"}",
            br#"{"action":null,"repository":null,"installation":null,"workflow_job":null,"check_run":null,"workflow_run":null}"#,
            br#"{"action":"created","check_run":{"id":7,"status":"queued","app":{"slug":"github-actions","slug":"x"}},"repository":{"name":"r","owner":{"login":"o"}}}"#,
            b"{} ",
            b"{}x",
            b"[]",
            b"null",
            b"",
        ];
        let deep = format!(
            "{{\"action\":\"a\",\"x\":{}{}}}",
            "[".repeat(140),
            "]".repeat(140)
        );
        let events = ["workflow_job", "check_run", "workflow_run", "ping", "push"];
        for case in cases.iter().copied().chain([deep.as_bytes()]) {
            for event in events {
                assert_eq!(
                    parse_event(event, case),
                    reference::parse_event(event, case),
                    "{event}: {:?}",
                    String::from_utf8_lossy(case)
                );
            }
            same_as_value(case);
        }
    }

    #[test]
    fn special_bytes_finds_the_first_quote_backslash_or_control_character() {
        for len in 0..=8usize {
            for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
                for filler in [b'a', 0x80, 0xff, 0x20, 0x21, 0x5b, 0x5d, 0x23] {
                    let mut w = [filler; 8];
                    if len < 8 {
                        w[len] = special;
                        // Anything after the first may or may not be flagged.
                        for later in w.iter_mut().skip(len + 1) {
                            *later = special;
                        }
                    }
                    let found = special_bytes(u64::from_le_bytes(w));
                    let first = if found == 0 {
                        8
                    } else {
                        found.trailing_zeros() as usize / 8
                    };
                    assert_eq!(first, len, "{w:?}");
                }
            }
        }
    }

    #[test]
    fn malformed_payloads_say_what_is_missing() {
        let e = parse_event("workflow_job", br#"{"action":"queued"}"#).unwrap_err();
        assert!(e.contains("workflow_job"), "{e}");
        let e = parse_event(
            "workflow_job",
            br#"{"action":"queued","workflow_job":{"id":1,"run_id":2},"repository":{"full_name":"o/r"}}"#,
        )
        .unwrap_err();
        assert!(e.contains("labels"), "{e}");
        assert!(parse_event("push", b"not json").is_err());
        assert!(matches!(
            parse_event("push", b"{}").unwrap(),
            WebhookEvent::Other { .. }
        ));
    }
}
