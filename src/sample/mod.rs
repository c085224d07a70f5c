//! The sample engine of HAProxy's rule language: fetches with arguments, converter
//! chains and typed values (`expr`, `fetch`, `conv`, `value`), acl matching (`pattern`),
//! map files (`map`) and the pattern references they share, changed at run time
//! (`refs`), log-format strings (`fmt`), variables (`vars`) and the stick-table fetches
//! and converters (`track`), userlists and the `http_auth*` fetches (`auth`).
//!
//! Expressions are parsed once, at config load, against two tables (`FETCHES`,
//! `CONVS`): adding a fetch or a converter is one entry and its function. Evaluation
//! reads an `Env` that borrows the request; values stay borrowed where they can.

pub mod auth;
pub mod conn;
pub mod conv;
pub mod digest;
pub mod expr;
pub mod fetch;
pub mod fix;
pub mod fmt;
pub mod hash;
pub mod hello;
pub mod hint;
pub mod json;
pub mod logvars;
pub mod map;
pub mod mqtt;
pub mod pattern;
pub mod refs;
pub mod ssl;
pub mod track;
mod urlp;
pub mod value;
pub mod vars;

pub use expr::{BeStat, Env, Expr, HttpReq, HttpRes, Named, SrvStat, Stats, TimeoutView, Timeouts};
pub use fmt::{Fmt, Pending};
pub use hint::did_you_mean;
pub use logvars::{Flags, LogCounts, LogEnd, LogInfo};
pub use pattern::{Method, Patterns};
pub use refs::AclPatterns;
pub use value::{Owned, Type, Value};
pub use vars::{ProcVars, Scope, Vars};
