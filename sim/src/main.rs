//! `flotilla`: replay and tune the scaling policy on real traces and prices.
mod cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    /// mimalloc's `mi_option_set` (linked through the mimalloc crate).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}
/// `mi_option_purge_delay` in mimalloc's `mi_option_e`.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

fn main() {
    // Keep freed memory instead of returning it to the OS after 10 ms: the tuner replays one
    // scenario after another, and re-faulting (zeroed, huge) pages cost ~10 % of its time.
    // SAFETY: sets a global option of the allocator this binary links; no pointer is passed.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    std::process::exit(cli::main());
}
