//! Teaching tools: narrated step logs ([`explain`]) and space-time diagrams ([`diagram`]).

pub mod diagram;
pub mod explain;
