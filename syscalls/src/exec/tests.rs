//! Host tests of the exec sessions: decoding the host's messages, input flow control and the
//! environment a process gets.

use alloc::vec::Vec;

use coracle_abi::exec_wire::{self, StartFields};

use super::*;

fn start(id: u32) -> Vec<u8> {
    let f = StartFields {
        args: alloc::vec![b"sh".to_vec()],
        ..StartFields::default()
    };
    exec_wire::encode(exec_wire::START, id, &f.encode())
}

// One test: the sessions are the machine's, shared by everything in this process.
#[test]
fn sessions_take_input_until_full_and_end() {
    let id = 900_001;
    let mut stream = start(id);
    stream.extend(exec_wire::encode(exec_wire::STDIN, id, b"hello"));
    // Input for a session that does not exist is dropped.
    stream.extend(exec_wire::encode(exec_wire::STDIN, 5, b"lost"));
    assert_eq!(feed(&stream), stream.len());
    assert!(pending());
    let (rid, fields) = REQUESTS.lock().pop_front().unwrap();
    assert_eq!((rid, fields.args), (id, alloc::vec![b"sh".to_vec()]));
    let s = session(id).unwrap();
    assert_eq!(s.input.lock().queue.len(), 5);
    assert!(session(5).is_none());

    // Past the cap, decoding stops after the message that filled it, and resumes once the
    // program read.
    let chunk = alloc::vec![b'x'; exec_wire::MAX_PAYLOAD];
    let mut big = Vec::new();
    for _ in 0..4 {
        big.extend(exec_wire::encode(exec_wire::STDIN, id, &chunk));
    }
    big.extend(exec_wire::encode(exec_wire::STDIN_END, id, b""));
    let used = feed(&big);
    assert!(used < big.len(), "{used}");
    assert_eq!(feed(&big[used..]), 0);
    let mut at = used;
    let mut taken = 0;
    while at < big.len() {
        taken += s.input.lock().queue.drain(..).count();
        let n = feed(&big[at..]);
        assert!(n > 0);
        at += n;
    }
    taken += s.input.lock().queue.len();
    assert_eq!(taken, 4 * exec_wire::MAX_PAYLOAD + 5);
    assert!(s.input.lock().ended);

    // A process of the session ending closes it.
    s.pid.store(4242, core::sync::atomic::Ordering::Relaxed);
    process_ended(4242, ExitStatus::Exited(3));
    assert!(session(id).is_none());
}

#[test]
fn the_environment_is_the_containers_with_the_requests_on_top() {
    let base = [b"PATH=/bin".to_vec(), b"HOME=/root".to_vec()];
    let env = spawn::environment_for_tests(&base, &[b"HOME=/tmp".to_vec(), b"A=1".to_vec()]);
    assert_eq!(
        env,
        [
            b"PATH=/bin".to_vec(),
            b"HOME=/tmp".to_vec(),
            b"A=1".to_vec()
        ]
    );
}
