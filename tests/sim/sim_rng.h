/*
 * sim_rng: the simulator's deterministic random numbers (xoshiro256**,
 * seeded through splitmix64). One generator per component (oscillator,
 * each path, each server), so changing one part of a scenario does not
 * reshuffle the randomness of the others.
 */
#ifndef HORLOGE_SIM_RNG_H
#define HORLOGE_SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct sim_rng {
    uint64_t s[4];
    bool has_spare;
    double spare;
};

void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_u64(struct sim_rng *r);
/* Uniform on (0, 1). */
double sim_rng_uniform(struct sim_rng *r);
double sim_rng_normal(struct sim_rng *r);
/* Exponential with the given mean. */
double sim_rng_exp(struct sim_rng *r, double mean);

#endif
