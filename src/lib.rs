//! closeloop: closed-loop security reporting for non-human identities.
//!
//! Code map (see README "Architecture" for the invariants):
//! - pure steps: `domain`, `parse`, `extract`, `dedup`, `command`, `authres`,
//!   `signed_address`, `letters` — no IO, time is a parameter;
//! - the database edge: `store`;
//! - use cases: `pipeline` (one message in), `lifecycle` (case transitions),
//!   `compose` (letters into the outbox), `sla` (reminder timers), `stats`
//!   (measures of the loop);
//! - the entry layer: `config`, `keyfile`, `context`, `cli`, `daemon`, `web`, `demo`.

pub mod authres;
pub mod cli;
pub mod command;
pub mod compose;
pub mod config;
pub mod context;
pub mod daemon;
pub mod dedup;
pub mod demo;
pub mod domain;
pub mod extract;
pub mod fault;
pub mod imap;
pub mod keyfile;
pub mod lease;
pub mod letters;
pub mod lifecycle;
pub mod maildir;
pub mod mailer;
pub mod oauth2;
pub mod outbox;
pub mod parse;
pub mod pipeline;
pub mod signed_address;
pub mod sla;
pub mod stats;
pub mod store;
#[cfg(test)]
pub(crate) mod testkit;
pub mod tls;
pub mod web;
