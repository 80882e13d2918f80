use std::sync::Arc;
use std::time::Duration;

use super::*;

#[tokio::test]
async fn bounded_in_order_and_empty_queues_hold_no_buffer() {
    let q = Queue::new(3);
    for i in 0..3 {
        q.try_push(i).unwrap();
    }
    assert_eq!(q.try_push(9), Err(PushError::Full(9)));
    let mut out = Vec::new();
    q.pop_into(&mut out, 2, false).await;
    assert_eq!(out, [0, 1]);
    q.pop_into(&mut out, 10, false).await;
    assert_eq!(out, [0, 1, 2]);
    assert_eq!(q.lock().items.capacity(), 0);
    q.close();
    assert_eq!(q.try_push(4), Err(PushError::Closed(4)));
}

#[tokio::test]
async fn waiting_producers_get_room_or_learn_the_consumer_left() {
    let q = Arc::new(Queue::new(4));
    for i in 0..3 {
        q.try_push(i).unwrap();
    }
    // Leaving 2 slots free needs 3 free: waits until the consumer takes two items.
    let producer = tokio::spawn({
        let q = q.clone();
        async move { q.push(10, 2).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!producer.is_finished());
    let mut out = Vec::new();
    assert_eq!(q.try_pop_into(&mut out, 1), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!producer.is_finished(), "one free slot is not enough");
    q.try_pop_into(&mut out, 1);
    assert!(producer.await.unwrap());
    assert_eq!(q.len(), 2);

    for i in 0..2 {
        q.try_push(i).unwrap();
    }
    let blocked = tokio::spawn({
        let q = q.clone();
        async move { q.push(11, 0).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    q.close();
    assert!(!blocked.await.unwrap());
}

#[test]
fn items_queued_quietly_to_a_lent_socket_wait_for_their_producer() {
    let q = Queue::new(8);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut out = Vec::new();
    assert!(q.poll_pop_into(&mut cx, &mut out, 8, true).is_pending(), "nothing queued: the socket is lent");
    assert_eq!(q.try_push_quiet(1), Ok(false), "the lending consumer is not woken");
    // The consumer's task polled for something else (a read, a request) leaves it.
    assert!(q.poll_pop_into(&mut cx, &mut out, 8, true).is_pending());
    assert!(out.is_empty());
    // A normal push wakes the consumer for the whole queue, in order.
    q.try_push(2).unwrap();
    assert!(q.poll_pop_into(&mut cx, &mut out, 8, true).is_ready());
    assert_eq!(out, [1, 2]);
    // Once it stops lending (a busy socket) everything queued is its own.
    assert!(q.poll_pop_into(&mut cx, &mut out, 8, true).is_pending());
    assert_eq!(q.try_push_quiet(3), Ok(false));
    assert!(q.poll_pop_into(&mut cx, &mut out, 8, false).is_ready());
    assert_eq!(out, [1, 2, 3]);
}

#[tokio::test]
async fn a_push_before_the_consumer_waits_is_not_missed() {
    let q = Arc::new(Queue::new(8));
    let consumer = tokio::spawn({
        let q = q.clone();
        async move {
            let mut out = Vec::new();
            while out.len() < 100 {
                q.pop_into(&mut out, 7, false).await;
            }
            out
        }
    });
    for i in 0..100 {
        q.push(i, 0).await;
    }
    assert_eq!(consumer.await.unwrap(), (0..100).collect::<Vec<_>>());
}
