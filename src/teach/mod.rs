//! Teaching tools: narrated step logs ([`explain`]), space-time diagrams ([`diagram`]), the
//! ShiViz export ([`shiviz`]) and the interactive lesson page ([`lesson`]).

pub mod diagram;
pub mod explain;
pub mod lesson;
pub mod shiviz;
