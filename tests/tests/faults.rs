//! Faults, many times over, on a private cluster: the listener's backends
//! terminated 100 times, then the server restarted 100 times. Each time the
//! listener reports one gap and comes back (inline and attachment messages
//! arrive again); afterwards it holds what it held before: the same open
//! files, the same tasks, two backends.

use std::time::{Duration, Instant};

use pg_socketio_client::{Event, Listener};
use pg_socketio_kit::{broadcast_number, next_event, next_message, PrivateCluster};
use tokio_postgres::Client;

const ROUNDS: i64 = 100;
const APP: &str = "faults_listener";
const WAIT: Duration = Duration::from_secs(15);

/// The number in the next message, a broadcast `("n", [n, ...])`.
async fn next_number(listener: &mut Listener) -> i64 {
    broadcast_number(&next_message(listener, WAIT).await.1)
}

async fn expect_gap(listener: &mut Listener, round: i64) -> String {
    match next_event(listener, WAIT).await {
        Event::Gap { reason } => reason,
        other => panic!("round {round}: expected a gap, got {other:?}"),
    }
}

/// One inline and one attachment message numbered `round` reach the listener.
async fn round_trip(cluster: &PrivateCluster, listener: &mut Listener, round: i64) {
    let db = cluster.connect().await;
    db.batch_execute(&format!(
        "SET pg_socketio.channel_prefix = 'faults';
         SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array({round}));
         SELECT sio_emit(ARRAY[]::text[], 'n', jsonb_build_array({round}, repeat('z', 9000)));"
    ))
    .await
    .unwrap();
    assert_eq!(next_number(listener).await, round);
    assert_eq!(next_number(listener).await, round);
}

/// The listener's backends, once those it lost are gone: a terminated
/// backend stays in pg_stat_activity until it has exited, which takes a
/// while on a busy machine.
async fn listener_backends(db: &Client) -> i64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let count: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE application_name IN ($1, $1 || ' (attachments)')",
                &[&APP],
            )
            .await
            .unwrap()
            .get(0);
        if count <= 2 || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// What the process holds: open files and live tokio tasks, the least of
/// each over a second (connections of dropped clients close asynchronously).
async fn held() -> (usize, usize) {
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut least = (usize::MAX, usize::MAX);
    for _ in 0..20 {
        least.0 = least.0.min(open_files());
        least.1 = least.1.min(metrics.num_alive_tasks());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    least
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_comes_back_after_every_termination_and_restart() {
    let cluster = PrivateCluster::start(&[]);
    cluster
        .connect()
        .await
        .batch_execute("CREATE EXTENSION pg_socketio")
        .await
        .unwrap();
    let mut listener = Listener::builder(format!("{}?application_name={APP}", cluster.url()))
        .channel_prefix("faults")
        .max_backoff(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    round_trip(&cluster, &mut listener, -1).await;
    let before = held().await;
    eprintln!("before: {} open files, {} tasks", before.0, before.1);

    let started = Instant::now();
    for round in 0..ROUNDS {
        let admin = cluster.connect().await;
        let terminated: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE application_name IN ($1, $1 || ' (attachments)')",
                &[&APP],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(terminated, 2, "the LISTEN and attachment connections");
        let reason = expect_gap(&mut listener, round).await;
        assert!(!reason.is_empty());
        round_trip(&cluster, &mut listener, round).await;
        assert_eq!(listener_backends(&admin).await, 2, "round {round}");
    }
    eprintln!("{ROUNDS} terminations in {:?}", started.elapsed());

    let started = Instant::now();
    for round in ROUNDS..2 * ROUNDS {
        tokio::task::block_in_place(|| cluster.restart());
        let reason = expect_gap(&mut listener, round).await;
        assert!(!reason.is_empty());
        round_trip(&cluster, &mut listener, round).await;
        assert_eq!(
            listener_backends(&cluster.connect().await).await,
            2,
            "round {round}"
        );
    }
    eprintln!("{ROUNDS} restarts in {:?}", started.elapsed());
    assert_eq!(held().await, before, "(open files, tasks)");
}
