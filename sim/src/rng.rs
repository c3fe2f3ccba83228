//! The simulator's only source of randomness: a seeded ChaCha stream drawn as `u64`s, turned
//! into floats and distributions with `libm`, so native and wasm32 runs draw the same numbers.
//!
//! `statrs` describes the same distributions, but its samplers go through `rand`'s float paths
//! and the platform's maths library; a last-bit difference between glibc and wasm would break
//! byte-identical reports, so sampling is done here (tests compare moments against `statrs`).

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

pub struct SimRng(ChaCha8Rng);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A derived, independent stream (e.g. one per concern), so adding draws in one place does
    /// not shift every other draw.
    pub fn fork(seed: u64, stream: u64) -> Self {
        SimRng(ChaCha8Rng::seed_from_u64(
            seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1].
    pub fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.uniform() < p
    }

    pub fn standard_normal(&mut self) -> f64 {
        // Box-Muller, one value per pair (simple and deterministic).
        let u1 = self.uniform_open0();
        let u2 = self.uniform();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
    }

    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(self.uniform_open0())
    }

    pub fn sample(&mut self, d: &Delay) -> i64 {
        let seconds = match *d {
            Delay::Constant { seconds } => seconds,
            Delay::Uniform { min, max } => min + (max - min) * self.uniform(),
            Delay::Exponential { mean } => self.exponential(mean),
            Delay::LogNormal { median, sigma } => {
                median * libm::exp(sigma * self.standard_normal())
            }
        };
        (seconds.max(0.0) * 1000.0) as i64
    }
}

/// A delay distribution in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum Delay {
    Constant {
        seconds: f64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    Exponential {
        mean: f64,
    },
    /// `median · e^(σ·Z)`: right-skewed, as boot and registration times are.
    LogNormal {
        median: f64,
        sigma: f64,
    },
}

impl Delay {
    pub fn constant(seconds: f64) -> Self {
        Delay::Constant { seconds }
    }

    /// The mean in seconds (for reports and the twin's comparisons).
    pub fn mean_seconds(&self) -> f64 {
        match *self {
            Delay::Constant { seconds } => seconds,
            Delay::Uniform { min, max } => (min + max) / 2.0,
            Delay::Exponential { mean } => mean,
            Delay::LogNormal { median, sigma } => median * libm::exp(sigma * sigma / 2.0),
        }
    }

    pub fn validate(&self, name: &str) -> Result<(), String> {
        let ok = match *self {
            Delay::Constant { seconds } => seconds >= 0.0 && seconds.is_finite(),
            Delay::Uniform { min, max } => min >= 0.0 && max >= min && max.is_finite(),
            Delay::Exponential { mean } => mean > 0.0 && mean.is_finite(),
            Delay::LogNormal { median, sigma } => {
                median > 0.0 && sigma >= 0.0 && median.is_finite() && sigma.is_finite()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{name}: {self:?} is not a valid delay (seconds must be finite and non-negative)"
            ))
        }
    }

    /// Every duration scaled by `factor` (the twin runs hours in minutes).
    pub fn scaled(&self, factor: f64) -> Delay {
        match *self {
            Delay::Constant { seconds } => Delay::Constant {
                seconds: seconds * factor,
            },
            Delay::Uniform { min, max } => Delay::Uniform {
                min: min * factor,
                max: max * factor,
            },
            Delay::Exponential { mean } => Delay::Exponential {
                mean: mean * factor,
            },
            Delay::LogNormal { median, sigma } => Delay::LogNormal {
                median: median * factor,
                sigma,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = SimRng::new(8);
        assert_ne!(SimRng::new(7).next_u64(), c.next_u64());
    }

    #[test]
    fn lognormal_median_and_exponential_mean_match_statrs() {
        use statrs::statistics::{Data, Median};
        let mut r = SimRng::new(1);
        let d = Delay::LogNormal {
            median: 40.0,
            sigma: 0.3,
        };
        let xs: Vec<f64> = (0..20_000).map(|_| r.sample(&d) as f64 / 1000.0).collect();
        let median = Data::new(xs.clone()).median();
        assert!((median - 40.0).abs() < 1.0, "median {median}");
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!(
            (mean - d.mean_seconds()).abs() < 0.6,
            "mean {mean} vs {}",
            d.mean_seconds()
        );
        let e = Delay::Exponential { mean: 10.0 };
        let m = (0..20_000)
            .map(|_| r.sample(&e) as f64 / 1000.0)
            .sum::<f64>()
            / 20_000.0;
        assert!((m - 10.0).abs() < 0.4, "mean {m}");
    }

    #[test]
    fn bad_delays_are_rejected() {
        assert!(Delay::LogNormal {
            median: -1.0,
            sigma: 0.1
        }
        .validate("boot")
        .is_err());
        assert!(Delay::Uniform { min: 5.0, max: 1.0 }.validate("x").is_err());
        assert!(Delay::constant(0.0).validate("x").is_ok());
    }
}
