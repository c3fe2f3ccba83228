//! `flotilla`: replay and tune the scaling policy on real traces and prices.
mod cli;

fn main() {
    std::process::exit(cli::main());
}
