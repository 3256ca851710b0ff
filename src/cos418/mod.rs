//! COS 418 compatibility: the token-passing world of Princeton's Chandy-Lamport assignment.
//!
//! Servers hold tokens and send them to each other over one-way FIFO links; `snapshot ID` starts
//! a Chandy-Lamport snapshot at a server. Time is an integer tick counter. Every message (token or
//! marker) is due `now + 1 + Intn(5)` ticks after it is sent, drawn from Go's `math/rand` seeded
//! with [`COURSE_SEED`] ([`gorand`]) — or, with our own seed, from a ChaCha stream. On each tick,
//! each server (ids sorted as strings) delivers at most one message: the head of the first of its
//! outbound links (sorted by destination) whose head is due. A due message waits behind a head that
//! is not. After the events, the world ticks until every snapshot completed, then 6 more times.
//!
//! Checks on every snapshot, from the world's own counters (not the snapshot's bookkeeping):
//! tokens are conserved, and it is a consistent cut — per link, the recorded messages are exactly
//! those sent before the sender's snapshot and received after the receiver's, in order.

pub mod gorand;
pub mod teach;

use crate::sim::{Component, RngTree, SimRng};
use gorand::{CookedTable, GoRand};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

/// A one-way link `(src, dst)`.
type Link = (String, String);

/// The seed the course's tests give Go's global generator.
pub const COURSE_SEED: i64 = 8053172852482175524;

/// Servers, their initial tokens, and the one-way links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Server id → initial tokens (ids sort as strings).
    pub servers: BTreeMap<String, i64>,
    /// One-way links `(src, dst)`.
    pub links: BTreeSet<(String, String)>,
}

/// One line of an `.events` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `send SRC DST K`.
    Send(String, String, i64),
    /// `snapshot ID`.
    Snapshot(String),
    /// `tick` / `tick N`.
    Tick(u64),
}

/// A snapshot in the `.snap` format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snap {
    /// Snapshot number (0, 1, … in the order the events start them).
    pub id: usize,
    /// Server → recorded tokens.
    pub tokens: BTreeMap<String, i64>,
    /// Recorded token messages `(src, dst, tokens)`: per destination in arrival order.
    pub messages: Vec<(String, String, i64)>,
}

fn lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split_whitespace().collect::<Vec<_>>()))
        .filter(|(_, w)| !w.is_empty() && !w[0].starts_with('#'))
}

fn num<T: std::str::FromStr>(what: &str, w: &str, file: &str, line: usize) -> Result<T, String> {
    w.parse().map_err(|_| format!("{file}:{line}: expected {what}, found {w:?}"))
}

impl Topology {
    /// Parses a `.top` file.
    pub fn parse(text: &str, file: &str) -> Result<Topology, String> {
        let mut it = lines(text);
        let (l, w) = it.next().ok_or_else(|| format!("{file}: empty; expected the number of servers"))?;
        let n: usize = num("the number of servers", w[0], file, l)?;
        let mut servers = BTreeMap::new();
        for _ in 0..n {
            let (l, w) = it.next().ok_or_else(|| format!("{file}: expected {n} servers, found {}", servers.len()))?;
            if w.len() != 2 {
                return Err(format!("{file}:{l}: expected `ID TOKENS`"));
            }
            servers.insert(w[0].to_string(), num("a token count", w[1], file, l)?);
        }
        let mut links = BTreeSet::new();
        for (l, w) in it {
            if w.len() != 2 || !servers.contains_key(w[0]) || !servers.contains_key(w[1]) {
                return Err(format!(
                    "{file}:{l}: expected a link `SRC DST` between known servers, found {:?}",
                    w.join(" ")
                ));
            }
            links.insert((w[0].to_string(), w[1].to_string()));
        }
        Ok(Topology { servers, links })
    }
}

/// Parses an `.events` file against `top`.
pub fn parse_events(text: &str, file: &str, top: &Topology) -> Result<Vec<Event>, String> {
    let known = |id: &str, l: usize| {
        if top.servers.contains_key(id) {
            Ok(id.to_string())
        } else {
            Err(format!("{file}:{l}: unknown server {id:?}"))
        }
    };
    let mut out = Vec::new();
    for (l, w) in lines(text) {
        out.push(match w.as_slice() {
            ["send", s, d, k] => {
                let (s, d) = (known(s, l)?, known(d, l)?);
                if !top.links.contains(&(s.clone(), d.clone())) {
                    return Err(format!("{file}:{l}: no link {s} → {d}"));
                }
                let k: i64 = num("a token count", k, file, l)?;
                if k <= 0 {
                    return Err(format!("{file}:{l}: a send moves a positive number of tokens, found {k}"));
                }
                Event::Send(s, d, k)
            }
            ["snapshot", id] => Event::Snapshot(known(id, l)?),
            ["tick"] => Event::Tick(1),
            ["tick", n] => Event::Tick(num("a number of ticks", n, file, l)?),
            _ => {
                return Err(format!(
                    "{file}:{l}: expected `send SRC DST K`, `snapshot ID` or `tick [N]`, found {:?}",
                    w.join(" ")
                ));
            }
        });
    }
    Ok(out)
}

impl Snap {
    /// Parses a `.snap` file.
    pub fn parse(text: &str, file: &str) -> Result<Snap, String> {
        let mut it = lines(text);
        let (l, w) = it.next().ok_or_else(|| format!("{file}: empty; expected the snapshot id"))?;
        let id = num("the snapshot id", w[0], file, l)?;
        let (mut tokens, mut messages) = (BTreeMap::new(), Vec::new());
        for (l, w) in it {
            match w.as_slice() {
                [s, t] => {
                    tokens.insert(s.to_string(), num("a token count", t, file, l)?);
                }
                [s, d, m] => {
                    let k = m
                        .strip_prefix("token(")
                        .and_then(|x| x.strip_suffix(')'))
                        .ok_or_else(|| format!("{file}:{l}: expected token(K), found {m:?}"))?;
                    messages.push((s.to_string(), d.to_string(), num("a token count", k, file, l)?));
                }
                _ => return Err(format!("{file}:{l}: expected `ID TOKENS` or `SRC DST token(K)`")),
            }
        }
        Ok(Snap { id, tokens, messages })
    }

    /// The snapshot in the `.snap` format.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n", self.id);
        for (id, t) in &self.tokens {
            let _ = writeln!(s, "{id} {t}");
        }
        for (src, dst, k) in &self.messages {
            let _ = writeln!(s, "{src} {dst} token({k})");
        }
        s
    }

    fn by_destination(&self) -> BTreeMap<&str, Vec<(&str, i64)>> {
        let mut m: BTreeMap<&str, Vec<(&str, i64)>> = BTreeMap::new();
        for (s, d, k) in &self.messages {
            m.entry(d.as_str()).or_default().push((s.as_str(), *k));
        }
        m
    }

    /// Differences from `expected`: per-server tokens, message count, and the per-destination
    /// order of recorded messages. Empty when they match.
    pub fn diff(&self, expected: &Snap) -> Vec<String> {
        let mut out = Vec::new();
        for id in expected.tokens.keys().chain(self.tokens.keys()).collect::<BTreeSet<_>>() {
            let (e, g) = (expected.tokens.get(id), self.tokens.get(id));
            if e != g {
                let show = |v: Option<&i64>| v.map_or("none".to_string(), |v| v.to_string());
                out.push(format!("snapshot {}: server {id}: tokens {}, expected {}", self.id, show(g), show(e)));
            }
        }
        if self.messages.len() != expected.messages.len() {
            out.push(format!(
                "snapshot {}: {} recorded messages, expected {}",
                self.id,
                self.messages.len(),
                expected.messages.len()
            ));
        }
        let (got, want) = (self.by_destination(), expected.by_destination());
        for d in want.keys().chain(got.keys()).collect::<BTreeSet<_>>() {
            let (g, w) = (got.get(d), want.get(d));
            if g != w {
                out.push(format!(
                    "snapshot {}: messages to {d}: {:?}, expected {:?}",
                    self.id,
                    g.cloned().unwrap_or_default(),
                    w.cloned().unwrap_or_default()
                ));
            }
        }
        out
    }
}

/// Where message delays come from.
pub enum Delays {
    /// Go's `math/rand`, as the course's tests.
    Go(GoRand),
    /// Our own seed: a ChaCha stream.
    Seeded(Box<SimRng>),
}

impl Delays {
    /// The course's generator, seeded with [`COURSE_SEED`].
    pub fn course(table: &CookedTable) -> Self {
        Delays::Go(GoRand::new(COURSE_SEED, table))
    }

    /// A ChaCha stream from `seed`.
    pub fn seeded(seed: u64) -> Self {
        Delays::Seeded(Box::new(RngTree::new(seed).stream(Component::Cos418Delays)))
    }

    /// `1 + Intn(5)`.
    fn next(&mut self) -> u64 {
        1 + match self {
            Delays::Go(g) => g.intn(5) as u64,
            Delays::Seeded(r) => r.below(5) as _,
        }
    }
}

/// A message of the token world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// `token(K)`, with its sequence number on its link.
    Token(i64, u64),
    /// The marker of snapshot `n`.
    Marker(usize),
}

/// One step of a run, for diagrams and narrated logs. `at` orders them: `tick × 1 ms` plus the
/// step's position within its tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEntry {
    /// A message is put on a link, due at tick `due`.
    Send {
        /// When.
        at: u64,
        /// Link.
        src: String,
        /// Link.
        dst: String,
        /// What.
        msg: Msg,
        /// Message id.
        id: u64,
        /// Due tick.
        due: u64,
    },
    /// A message is delivered.
    Deliver {
        /// When.
        at: u64,
        /// Link.
        src: String,
        /// Link.
        dst: String,
        /// What.
        msg: Msg,
        /// Message id.
        id: u64,
    },
    /// A server records its state for snapshot `n` (`marker_from`: the link of its first marker;
    /// `None` for the initiator).
    Record {
        /// When.
        at: u64,
        /// Server.
        server: String,
        /// Snapshot.
        n: usize,
        /// Tokens recorded.
        tokens: i64,
        /// Where the first marker came from.
        marker_from: Option<String>,
    },
}

#[derive(Clone, Debug, Default)]
struct Local {
    tokens: i64,
    /// Inbound links (by source) still being recorded.
    recording: BTreeSet<String>,
    /// Ground truth at the local snapshot: token messages sent per outbound link, received per
    /// inbound link.
    sent: BTreeMap<String, u64>,
    received: BTreeMap<String, u64>,
}

/// What a run of the world produced.
#[derive(Debug)]
pub struct Outcome {
    /// Every snapshot, in id order.
    pub snapshots: Vec<Snap>,
    /// Violations of token conservation or of the consistent cut.
    pub violations: Vec<String>,
    /// Ticks simulated.
    pub ticks: u64,
    /// Every send, delivery and state recording, in order.
    pub log: Vec<LogEntry>,
}

struct World<'a> {
    top: &'a Topology,
    delays: Delays,
    now: u64,
    tokens: BTreeMap<String, i64>,
    /// Per link: `(due tick, message, id)` in FIFO order.
    queues: BTreeMap<Link, VecDeque<(u64, Msg, u64)>>,
    log: Vec<LogEntry>,
    next_id: u64,
    step_in_tick: u64,
    sent: BTreeMap<(String, String), u64>,
    received: BTreeMap<(String, String), u64>,
    /// Per snapshot, per server that joined it.
    snaps: Vec<BTreeMap<String, Local>>,
    /// Per snapshot, recorded messages `(src, dst, tokens, seq)` in arrival order.
    recorded: Vec<Vec<(String, String, i64, u64)>>,
}

impl World<'_> {
    fn at(&mut self) -> u64 {
        self.step_in_tick += 1;
        self.now * crate::sim::MS + self.step_in_tick
    }

    fn send(&mut self, src: &str, dst: &str, m: Msg) {
        let due = self.now + self.delays.next();
        let id = self.next_id;
        self.next_id += 1;
        self.queues.get_mut(&(src.to_string(), dst.to_string())).expect("a known link").push_back((due, m, id));
        let at = self.at();
        self.log.push(LogEntry::Send { at, src: src.to_string(), dst: dst.to_string(), msg: m, id, due });
    }

    fn outbound(&self, s: &str) -> Vec<String> {
        self.top.links.iter().filter(|(a, _)| a == s).map(|(_, b)| b.clone()).collect()
    }

    /// `s` records its state for snapshot `n` and sends markers on every outbound link.
    fn start(&mut self, n: usize, s: &str, marker_from: Option<&str>) {
        let inbound: BTreeSet<String> = self
            .top
            .links
            .iter()
            .filter(|(_, b)| b == s)
            .map(|(a, _)| a.clone())
            .filter(|a| Some(a.as_str()) != marker_from)
            .collect();
        let local = Local {
            tokens: self.tokens[s],
            recording: inbound,
            sent: self.outbound(s).into_iter().map(|d| (d.clone(), self.sent[&(s.to_string(), d)])).collect(),
            received: self
                .top
                .links
                .iter()
                .filter(|(_, b)| b == s)
                .map(|(a, b)| (a.clone(), self.received[&(a.clone(), b.clone())]))
                .collect(),
        };
        let at = self.at();
        self.log.push(LogEntry::Record {
            at,
            server: s.to_string(),
            n,
            tokens: local.tokens,
            marker_from: marker_from.map(String::from),
        });
        self.snaps[n].insert(s.to_string(), local);
        for d in self.outbound(s) {
            self.send(s, &d, Msg::Marker(n));
        }
    }

    fn deliver(&mut self, src: &str, dst: &str, m: Msg, id: u64) {
        let at = self.at();
        self.log.push(LogEntry::Deliver { at, src: src.to_string(), dst: dst.to_string(), msg: m, id });
        match m {
            Msg::Token(k, seq) => {
                *self.tokens.get_mut(dst).expect("known") += k;
                *self.received.get_mut(&(src.to_string(), dst.to_string())).expect("known") += 1;
                for (n, snap) in self.snaps.iter().enumerate() {
                    if snap.get(dst).is_some_and(|l| l.recording.contains(src)) {
                        self.recorded[n].push((src.to_string(), dst.to_string(), k, seq));
                    }
                }
            }
            Msg::Marker(n) => match self.snaps[n].get_mut(dst) {
                Some(local) => {
                    local.recording.remove(src);
                }
                None => self.start(n, dst, Some(src)),
            },
        }
    }

    fn tick(&mut self) {
        self.now += 1;
        self.step_in_tick = 0;
        for s in self.top.servers.keys() {
            for d in self.outbound(s) {
                let key = (s.clone(), d.clone());
                if self.queues[&key].front().is_some_and(|(due, _, _)| *due <= self.now) {
                    let (_, m, id) = self.queues.get_mut(&key).expect("known").pop_front().expect("checked");
                    self.deliver(s, &d, m, id);
                    break;
                }
            }
        }
    }

    fn complete(&self) -> bool {
        self.snaps.iter().all(|s| s.len() == self.top.servers.len() && s.values().all(|l| l.recording.is_empty()))
    }
}

/// Runs `events` on `top` with `delays` and checks every snapshot.
///
/// A send of more tokens than the sender holds at that moment is an error (as in the course's
/// own implementation), naming the event.
pub fn run(top: &Topology, events: &[Event], delays: Delays) -> Result<Outcome, String> {
    let mut w = World {
        top,
        delays,
        now: 0,
        tokens: top.servers.clone(),
        queues: top.links.iter().map(|l| (l.clone(), VecDeque::new())).collect(),
        sent: top.links.iter().map(|l| (l.clone(), 0)).collect(),
        received: top.links.iter().map(|l| (l.clone(), 0)).collect(),
        snaps: Vec::new(),
        recorded: Vec::new(),
        log: Vec::new(),
        next_id: 0,
        step_in_tick: 0,
    };
    for (i, e) in events.iter().enumerate() {
        match e {
            Event::Send(s, d, k) => {
                let held = w.tokens[s];
                if held < *k {
                    return Err(format!("event {}: server {s} sends {k} tokens but holds only {held}", i + 1));
                }
                *w.tokens.get_mut(s).expect("validated") -= k;
                let key = (s.clone(), d.clone());
                let seq = w.sent[&key];
                *w.sent.get_mut(&key).expect("known") += 1;
                w.send(s, d, Msg::Token(*k, seq));
            }
            Event::Snapshot(s) => {
                w.snaps.push(BTreeMap::new());
                w.recorded.push(Vec::new());
                let n = w.snaps.len() - 1;
                w.start(n, s, None);
            }
            Event::Tick(n) => (0..*n).for_each(|_| w.tick()),
        }
    }
    // Bounded: every message is due within 5 ticks, and each tick moves at least one due head.
    let limit = w.now + 1_000_000;
    while !w.complete() && w.now < limit {
        w.tick();
    }
    for _ in 0..6 {
        w.tick();
    }
    let total: i64 = top.servers.values().sum();
    let mut snapshots = Vec::new();
    let mut violations = Vec::new();
    for (n, snap) in w.snaps.iter().enumerate() {
        let tokens: BTreeMap<String, i64> = snap.iter().map(|(s, l)| (s.clone(), l.tokens)).collect();
        // Per destination (sorted), in arrival order.
        let mut messages: Vec<(String, String, i64)> = Vec::new();
        for d in top.servers.keys() {
            messages.extend(w.recorded[n].iter().filter(|m| &m.1 == d).map(|m| (m.0.clone(), m.1.clone(), m.2)));
        }
        let held: i64 = tokens.values().sum::<i64>() + messages.iter().map(|m| m.2).sum::<i64>();
        if held != total {
            violations.push(format!("snapshot {n}: {held} tokens recorded, {total} in the system"));
        }
        if snap.len() != top.servers.len() {
            violations.push(format!(
                "snapshot {n}: only {} of {} servers recorded their state",
                snap.len(),
                top.servers.len()
            ));
        }
        for (src, dst) in &top.links {
            let (Some(u), Some(v)) = (snap.get(src), snap.get(dst)) else { continue };
            let (s, r) = (u.sent[dst], v.received[src]);
            let got: Vec<u64> = w.recorded[n].iter().filter(|m| &m.0 == src && &m.1 == dst).map(|m| m.3).collect();
            if r > s || got != (r..s).collect::<Vec<_>>() {
                violations.push(format!(
                    "snapshot {n}, link {src} → {dst}: recorded messages {got:?}, expected {:?}",
                    (r..s).collect::<Vec<_>>()
                ));
            }
        }
        snapshots.push(Snap { id: n, tokens, messages });
    }
    Ok(Outcome { snapshots, violations, ticks: w.now, log: w.log })
}

/// Reads a `.top` and an `.events` file.
pub fn load(top: &Path, events: &Path) -> Result<(Topology, Vec<Event>), String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let t = Topology::parse(&read(top)?, &top.display().to_string())?;
    let e = parse_events(&read(events)?, &events.display().to_string(), &t)?;
    Ok((t, e))
}
