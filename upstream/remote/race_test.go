//go:build race

package remote

// raceEnabled: the race detector drops sync.Pool items at random, so
// counts of allocations that a pool saves do not hold under it.
const raceEnabled = true
