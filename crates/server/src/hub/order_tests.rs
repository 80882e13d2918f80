//! Unit tests of [`super::Lanes`]: in-order release, gap expiry, unsure lanes and bounds.

use super::*;

const WAIT: Duration = Duration::from_millis(250);

fn limits() -> LaneLimits {
    LaneLimits { wait: WAIT, max_lanes: 4, max_held: 8, max_held_per_lane: 4 }
}

fn frame(seq: i64) -> Frame {
    Frame::from(seq.to_string())
}

/// Offers `seq` and returns what came out (as seqs) and whether subscribers missed something.
fn offer(lanes: &mut Lanes, channel: Uuid, seq: i64, now: Instant) -> (Vec<i64>, bool) {
    let mut out = Vec::new();
    let missed = lanes.offer(channel, seq, frame(seq), now, &mut |f| out.push(f.as_str().parse().unwrap()));
    lanes.check_invariants();
    (out, missed)
}

fn expire(lanes: &mut Lanes, now: Instant) -> (Vec<(Uuid, i64)>, Vec<Uuid>) {
    let (mut out, mut missed) = (Vec::new(), Vec::new());
    lanes.expire(now, &mut |c, f| out.push((c, f.as_str().parse().unwrap())), &mut |c| missed.push(c));
    lanes.check_invariants();
    (out, missed)
}

#[test]
fn early_arrivals_wait_for_the_gap_to_fill() {
    let (mut lanes, ch, t0) = (Lanes::new(limits()), Uuid::now_v7(), Instant::now());
    assert_eq!(offer(&mut lanes, ch, 1, t0), (vec![1], false));
    assert_eq!(offer(&mut lanes, ch, 3, t0), (vec![], false));
    assert_eq!(offer(&mut lanes, ch, 4, t0), (vec![], false));
    assert_eq!(offer(&mut lanes, ch, 2, t0), (vec![2, 3, 4], false));
    assert_eq!(offer(&mut lanes, ch, 5, t0), (vec![5], false));
    assert_eq!(expire(&mut lanes, t0 + WAIT * 2), (vec![], vec![]));
}

#[test]
fn a_gap_that_stays_open_is_skipped_and_reported() {
    let (mut lanes, ch, t0) = (Lanes::new(limits()), Uuid::now_v7(), Instant::now());
    offer(&mut lanes, ch, 1, t0);
    assert_eq!(offer(&mut lanes, ch, 3, t0), (vec![], false));
    assert_eq!(expire(&mut lanes, t0 + WAIT / 2), (vec![], vec![]));
    assert_eq!(expire(&mut lanes, t0 + WAIT), (vec![(ch, 3)], vec![ch]));
    assert_eq!(offer(&mut lanes, ch, 2, t0 + WAIT), (vec![], true), "late: dropped, reported");
    assert_eq!(offer(&mut lanes, ch, 4, t0 + WAIT), (vec![4], false));
}

#[test]
fn a_new_lane_past_seq_1_waits_before_trusting_its_position() {
    let (mut lanes, ch, t0) = (Lanes::new(limits()), Uuid::now_v7(), Instant::now());
    assert_eq!(offer(&mut lanes, ch, 7, t0), (vec![], false));
    assert_eq!(offer(&mut lanes, ch, 6, t0), (vec![], false), "6 was still on its way");
    assert_eq!(expire(&mut lanes, t0 + WAIT), (vec![(ch, 6), (ch, 7)], vec![]), "no gap among them");
    assert_eq!(offer(&mut lanes, ch, 8, t0 + WAIT), (vec![8], false));

    let other = Uuid::now_v7();
    offer(&mut lanes, other, 5, t0);
    offer(&mut lanes, other, 7, t0);
    assert_eq!(expire(&mut lanes, t0 + WAIT), (vec![(other, 5), (other, 7)], vec![other]), "6 is missing");
}

#[test]
fn seq_1_needs_no_wait_and_releases_what_an_unsure_lane_held() {
    let (mut lanes, ch, t0) = (Lanes::new(limits()), Uuid::now_v7(), Instant::now());
    assert_eq!(offer(&mut lanes, ch, 2, t0), (vec![], false));
    assert_eq!(offer(&mut lanes, ch, 1, t0), (vec![1, 2], false));
    assert_eq!(expire(&mut lanes, t0 + WAIT), (vec![], vec![]));
}

#[test]
fn holding_is_bounded_per_lane_and_overall() {
    let (mut lanes, t0) = (Lanes::new(limits()), Instant::now());
    let ch = Uuid::now_v7();
    offer(&mut lanes, ch, 1, t0);
    for seq in 3..=6 {
        assert_eq!(offer(&mut lanes, ch, seq, t0), (vec![], false));
    }
    assert_eq!(offer(&mut lanes, ch, 7, t0), (vec![3, 4, 5, 6, 7], true), "fifth held frame flushes the lane");

    let mut total = 0;
    let channels: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for &c in &channels {
        offer(&mut lanes, c, 1, t0);
        for seq in [3, 4, 5] {
            let (out, _) = offer(&mut lanes, c, seq, t0);
            total += out.len();
        }
    }
    assert!(total > 0, "the overall bound flushed a lane");
    assert!(lanes.held <= 8);
}

#[test]
fn idle_lanes_are_evicted_and_the_lane_count_is_capped() {
    let (mut lanes, t0) = (Lanes::new(limits()), Instant::now());
    for i in 0..6 {
        offer(&mut lanes, Uuid::now_v7(), 1, t0 + Duration::from_millis(i));
    }
    assert_eq!(lanes.len(), 4, "capped at max_lanes");
    let waiting = Uuid::now_v7();
    offer(&mut lanes, waiting, 9, t0);
    lanes.evict_idle(t0 + Duration::from_secs(60), Duration::from_secs(30));
    assert_eq!(lanes.len(), 1, "only the lane still waiting is kept");
    let mut out = Vec::new();
    assert!(lanes.drain(&mut |c, _| out.push(c)).is_empty());
    assert_eq!(out, vec![waiting]);
    assert!(lanes.is_empty());
    lanes.check_invariants();
}
