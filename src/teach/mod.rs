//! Teaching tools: narrated step logs of what a protocol does ([`explain`]).

pub mod explain;
