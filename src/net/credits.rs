//! Credit-based flow control: how many buffers a receiver can still take on a channel, granting
//! exclusive credits, requesting and releasing floating buffers of the input gate.

use super::{NetEvent, Network};
use crate::sim::{ChannelId, EventQueue, SimTime};

impl Network {
    pub(super) fn need(&self, ch: ChannelId) -> u32 {
        let r = &self.chans[ch.0 as usize].recv;
        r.last_backlog.saturating_sub(r.outstanding)
    }

    pub(super) fn grant<E: From<NetEvent>>(&mut self, ch: ChannelId, n: u32, now: SimTime, q: &mut EventQueue<E>) {
        self.chans[ch.0 as usize].recv.outstanding += n;
        let at = now + self.delay();
        q.push(at, NetEvent::Credit(ch, n).into());
    }

    pub(super) fn request_floating<E: From<NetEvent>>(&mut self, ch: ChannelId, now: SimTime, q: &mut EventQueue<E>) {
        let need = self.need(ch);
        if need == 0 {
            return;
        }
        let gate = self.chans[ch.0 as usize].gate;
        let g = need.min(self.gates[gate].floating_free);
        if g > 0 {
            self.gates[gate].floating_free -= g;
            self.chans[ch.0 as usize].recv.floating_held += g;
            self.grant(ch, g, now, q);
        }
        let r = &mut self.chans[ch.0 as usize].recv;
        if need > g && !r.waiting_floating {
            r.waiting_floating = true;
            self.gates[gate].waiting.push_back(ch);
        }
    }

    /// A consumed data buffer frees its slot: back to the gate if it was a floating buffer the
    /// channel no longer needs, otherwise a new credit for the channel.
    pub(super) fn release_slot<E: From<NetEvent>>(&mut self, ch: ChannelId, now: SimTime, q: &mut EventQueue<E>) {
        let gate = self.chans[ch.0 as usize].gate;
        let r = &mut self.chans[ch.0 as usize].recv;
        r.queued_data -= 1;
        self.queued_total -= 1;
        if r.floating_held > 0 && r.last_backlog <= r.outstanding {
            r.floating_held -= 1;
            self.gates[gate].floating_free += 1;
            self.serve_waiting(gate, now, q);
        } else {
            self.grant(ch, 1, now, q);
        }
    }

    pub(super) fn serve_waiting<E: From<NetEvent>>(&mut self, gate: usize, now: SimTime, q: &mut EventQueue<E>) {
        while self.gates[gate].floating_free > 0 {
            let Some(&ch) = self.gates[gate].waiting.front() else {
                break;
            };
            let need = self.need(ch);
            if need > 0 {
                self.gates[gate].floating_free -= 1;
                self.chans[ch.0 as usize].recv.floating_held += 1;
                self.grant(ch, 1, now, q);
            }
            if need <= 1 {
                self.gates[gate].waiting.pop_front();
                self.chans[ch.0 as usize].recv.waiting_floating = false;
            }
        }
    }
}
