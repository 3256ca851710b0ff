//! Teaching tools: narrated step logs ([`explain`]), space-time diagrams ([`diagram`]) and the
//! ShiViz export ([`shiviz`]).

pub mod diagram;
pub mod explain;
pub mod shiviz;
