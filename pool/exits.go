package pool

// ExitCause says why a process of the pool exited, for Stats.Exits.
type ExitCause int

// The causes of an exit. All but ExitCrashed are the pool's own stops.
const (
	// ExitReleased: its owner released it (the session it served ended).
	ExitReleased ExitCause = iota
	// ExitSurplus: an unassigned spare stopped, idle for IdleTimeout or
	// beyond lowered limits.
	ExitSurplus
	// ExitUnready: a new spare failed its Ready check.
	ExitUnready
	// ExitClosed: the pool was closed (Close) while the process was a spare.
	ExitClosed
	// ExitCrashed: the process exited before the pool asked it to stop.
	ExitCrashed
	// NumExitCauses is the number of causes: the length of Stats.Exits.
	NumExitCauses
)

// String is the cause's name as metrics and the admin API show it.
func (c ExitCause) String() string {
	switch c {
	case ExitReleased:
		return "released"
	case ExitSurplus:
		return "surplus"
	case ExitUnready:
		return "unready"
	case ExitClosed:
		return "closed"
	case ExitCrashed:
		return "crashed"
	}
	return "unknown"
}
