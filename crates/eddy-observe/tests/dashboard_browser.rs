//! The dashboard in a real headless browser: `scripts/dashboard_check.py` drives Debian's
//! Chromium through chromedriver (python3-selenium) against a running job, and saves a
//! screenshot to `<target>/tmp/dashboard.png`. `.ci/run` installs the three packages.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use eddy_observe::Observer;
use support::*;

#[test]
fn the_dashboard_shows_a_running_job_in_chromium() {
    for program in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            Path::new(program).exists(),
            "{program} is missing: apt-get install -y chromium chromium-driver python3-selenium (.ci/run does)"
        );
    }
    let root = tempfile::tempdir().unwrap();
    let dirs = Dirs::in_(root.path());
    // Two files at 400 events per second each: about 50 s unless stopped, far longer than the check.
    let lines = write_input(&dirs.input, 2, 20_000);
    let observer = Observer::start("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    let job = job(&dirs, 2, observer.metrics.clone());
    let stop = job.stop_handle();
    let (input, output) = (dirs.input.clone(), dirs.output.clone());
    let running = std::thread::spawn(move || job.run(move |env| build(env, &input, &output, Some(400))));

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let checked = Command::new("/usr/bin/python3")
        .arg(workspace.join("scripts/dashboard_check.py"))
        .arg(format!("http://{}/", observer.addr))
        .arg(&dirs.checkpoints)
        .arg(&screenshot)
        .output()
        .expect("running scripts/dashboard_check.py");
    stop.stop();
    let summary = running.join().unwrap().unwrap();
    let report =
        format!("{}{}", String::from_utf8_lossy(&checked.stdout), String::from_utf8_lossy(&checked.stderr));
    assert!(checked.status.success(), "{report}");
    assert!(report.contains("dashboard ok"), "{report}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000, "a blank screenshot? {report}");
    assert!(summary.records_read < lines, "the job ended before the check: {}", summary.records_read);
    eprintln!("{report}");
}
