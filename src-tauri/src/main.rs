// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use clap::Parser;

fn main() {
    parlor_app::run(parlor_app::launch::Launch::parse());
}
