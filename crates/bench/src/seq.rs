//! Loss and duplicate accounting of one receiver: the seqs of a channel it has seen, as a
//! bitset above the channel's head when the run started.

/// What became of one delivery in a [`SeqTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time this seq arrived.
    Fresh,
    /// This seq arrived before.
    Duplicate,
    /// At or below the channel head when the run started: not part of the run.
    Stale,
}

/// The seqs of one channel seen by one receiver, as a bitset over `seq - base`.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    base: i64,
    bits: Vec<u64>,
    /// Distinct seqs above `base` seen.
    pub unique: u64,
    /// Repeated deliveries of a seq.
    pub duplicates: u64,
}

impl SeqTracker {
    /// A tracker for seqs above `base` (the channel's `head_seq` when the run started).
    pub fn new(base: i64) -> Self {
        Self { base, ..Self::default() }
    }

    /// Records a delivery of `seq`.
    pub fn record(&mut self, seq: i64) -> Seen {
        if seq <= self.base {
            return Seen::Stale;
        }
        let offset = (seq - self.base - 1) as usize;
        let (word, bit) = (offset / 64, 1u64 << (offset % 64));
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & bit != 0 {
            self.duplicates += 1;
            return Seen::Duplicate;
        }
        self.bits[word] |= bit;
        self.unique += 1;
        Seen::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqs_are_counted_once_above_the_base() {
        let mut t = SeqTracker::new(10);
        assert_eq!(t.record(10), Seen::Stale);
        assert_eq!(t.record(11), Seen::Fresh);
        assert_eq!(t.record(200), Seen::Fresh);
        assert_eq!(t.record(11), Seen::Duplicate);
        assert_eq!(t.record(75), Seen::Fresh);
        assert_eq!(t.record(200), Seen::Duplicate);
        assert_eq!((t.unique, t.duplicates), (3, 2));
    }
}
