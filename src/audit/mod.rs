//! `audit`: does a configuration admit what the policy needs, no more, with the right TLS?
//!
//! Does an existing proxy or firewall configuration let through what a
//! site's policy needs, no more than it needs, with the TLS handling
//! Microsoft asks for?
//!
//! The readers live beside their backends and produce the reading contract
//! ([`crate::backends::reader`]); the [`engine`] asks every configuration
//! the same questions for every policy entry, with the same matching code
//! as `explain`; no reader decides coverage on its own.

pub mod engine;
pub mod html;
pub mod lines;
pub mod probe;
pub mod report;
pub mod security;
pub mod setup;

use std::collections::BTreeMap;

use crate::backends::REGISTRY;
use crate::backends::loss::{Outcome, plan};
use crate::policy::Policy;

/// The entries the format of a reader cannot express, or only in part,
/// with why: what the loss classifier says of them with its own backend's
/// capabilities (default settings). A configuration of that format cannot
/// carry them either, which the audit reports as such rather than as a
/// gap.
pub fn inexpressible(policy: &Policy, kind: &str) -> BTreeMap<String, String> {
    let caps = REGISTRY
        .iter()
        .find(|row| row.reader.is_some_and(|r| r.kind == kind))
        .and_then(|row| (row.default)())
        .map(|backend| backend.caps());
    let Some(caps) = caps else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for e in &policy.entries {
        let plan = plan(e, &caps, &policy.prefixes);
        // As `Plan::entry` judges it: nothing written is a drop.
        let written = !plan.writes.is_empty() || plan.tag.is_some();
        let why = plan.why.join("; ");
        let line = match (written, plan.outcome) {
            (false, _) | (true, Outcome::Dropped) => format!("cannot express it: {why}"),
            (true, Outcome::Narrowed) => format!("can express only part of it: {why}"),
            _ => continue,
        };
        out.insert(e.key(), line);
    }
    out
}
