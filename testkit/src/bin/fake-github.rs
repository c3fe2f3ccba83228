//! `fake-github --port N [--state seed.json] [--strict]`: run the fake GitHub API on 127.0.0.1.
//!
//! Prints `listening on http://127.0.0.1:PORT` once ready; control it over `/_testkit/...`.
use flotilla_testkit::{FakeGitHub, FakeGitHubOptions, Seed, Validation};

fn usage() -> ! {
    eprintln!("usage: fake-github [--port N] [--state seed.json] [--strict|--no-validate]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut opts = FakeGitHubOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                opts.port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--state" => {
                let path = args.next().unwrap_or_else(|| usage());
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                    eprintln!("fake-github: cannot read {path}: {e}");
                    std::process::exit(1)
                });
                let seed: Seed = serde_json::from_str(&text).unwrap_or_else(|e| {
                    eprintln!("fake-github: {path}: {e}");
                    std::process::exit(1)
                });
                opts.seed = Some(seed);
            }
            "--strict" => opts.validation = Validation::Enforce,
            "--no-validate" => opts.validation = Validation::Off,
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let gh = FakeGitHub::start(opts).await.unwrap_or_else(|e| {
        eprintln!("fake-github: {e}");
        std::process::exit(1)
    });
    println!("listening on {}", gh.base_url());
    let _ = tokio::signal::ctrl_c().await;
}
