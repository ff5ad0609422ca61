package boundaries

// Status is a profile's verdict on a unit's size.
type Status string

// The statuses, in the order reports list them.
const (
	Undersized Status = "undersized"
	Normal     Status = "normal"
	Oversized  Status = "oversized"
	// Unknown: the unit has no counts the profile can judge.
	Unknown Status = "unknown"
)

// Statuses lists every status.
var Statuses = []Status{Undersized, Normal, Oversized, Unknown}

// Flagged reports whether the status asks for a merge or a split.
func (s Status) Flagged() bool { return s == Undersized || s == Oversized }

// ZoneKind is a kind of boundary problem the analysis finds.
type ZoneKind string

// The zone kinds, in the order plans repair them.
const (
	CrossesParent ZoneKind = "crosses_parent" // a unit pokes out of its parent
	Overlap       ZoneKind = "overlap"        // two units of a level share area
	Gap           ZoneKind = "gap"            // part of a parent no child covers
	Unowned       ZoneKind = "unowned"        // community ground no grid covers (属地兜底)
	Noncontiguous ZoneKind = "noncontiguous"  // a unit in several pieces
	Orphan        ZoneKind = "orphan"         // a unit whose parent is not loaded
)

// ZoneKinds lists every zone kind.
var ZoneKinds = []ZoneKind{CrossesParent, Overlap, Gap, Unowned, Noncontiguous, Orphan}
