//! `leaderboard`: a plugin library called with FCALL.
//!
//! - `FCALL lb_add 1 <board> <player> <points>`: adds points (ZINCRBY); the
//!   new score.
//! - `FCALL_RO lb_top 1 <board> <n>`: the top `n` players with their scores,
//!   best first (`[player, score, player, score, …]`).
//! - `FCALL_RO lb_rank 1 <board> <player>`: the player's 1-based rank, or nil.
//!
//! Boards are sorted sets in the library's namespace (`leaderboard:<board>`).

use meridian_guest::plugin::{Function, Plugin, Reply, Value, num_arg, text_arg};
use meridian_guest::sorted_set;

struct Leaderboard;

fn board(keys: &[String]) -> Result<&str, String> {
    keys.first()
        .map(String::as_str)
        .ok_or_else(|| "a board key is required".to_string())
}

impl Plugin for Leaderboard {
    const NAME: &'static str = "leaderboard";
    const FUNCTIONS: &'static [Function] = &[
        Function::write("lb_add"),
        Function::read_only("lb_top"),
        Function::read_only("lb_rank"),
    ];

    fn call(function: &str, keys: Vec<String>, args: Vec<Vec<u8>>) -> Result<Reply, String> {
        let board = board(&keys)?;
        match function {
            "lb_add" => {
                let player = text_arg(&args, 0)?;
                let points: f64 = num_arg(&args, 1)?;
                let score = sorted_set::incr(board, player.as_bytes(), points)
                    .map_err(|e| e.to_string())?;
                Ok(Reply::Double(score))
            }
            "lb_top" => {
                let n: u32 = num_arg(&args, 0)?;
                let top = sorted_set::top(board, n).map_err(|e| e.to_string())?;
                Ok(Reply::Array(
                    top.into_iter()
                        .flat_map(|(m, s)| [Value::Bulk(m), Value::Double(s)])
                        .collect(),
                ))
            }
            "lb_rank" => {
                let player = text_arg(&args, 0)?;
                match sorted_set::rank(board, player.as_bytes(), true) {
                    Ok(Some(r)) => Ok(Reply::Integer(r as i64 + 1)),
                    Ok(None) => Ok(Reply::Nil),
                    Err(e) => Err(e.to_string()),
                }
            }
            other => Err(format!("unknown function {other}")),
        }
    }
}

meridian_guest::plugin!(Leaderboard);
