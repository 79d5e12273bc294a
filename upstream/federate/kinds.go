package federate

// kind is a kind of list the gateway merges.
type kind int

const (
	kTools kind = iota
	kPrompts
	kResources
	kTemplates
	numKinds
)

// kindInfo says, for each kind, its list method, the result member that
// holds the items, the item member that names one, the filter rules that
// apply (visibility index) and the notification that it changed.
var kindInfo = [numKinds]struct {
	method, field, key, changed string
	filter                      int
}{
	kTools:     {"tools/list", "tools", "name", "notifications/tools/list_changed", 0},
	kPrompts:   {"prompts/list", "prompts", "name", "notifications/prompts/list_changed", 1},
	kResources: {"resources/list", "resources", "uri", "notifications/resources/list_changed", 2},
	kTemplates: {"resources/templates/list", "resourceTemplates", "uriTemplate", "notifications/resources/list_changed", 2},
}

// methodKind is the kind each list method lists.
var methodKind = map[string]kind{
	"tools/list": kTools, "prompts/list": kPrompts,
	"resources/list": kResources, "resources/templates/list": kTemplates,
}

// changedKinds are the kinds each list_changed notification invalidates.
var changedKinds = map[string][]kind{
	"notifications/tools/list_changed":     {kTools},
	"notifications/prompts/list_changed":   {kPrompts},
	"notifications/resources/list_changed": {kResources, kTemplates},
}

var allKinds = []kind{kTools, kPrompts, kResources, kTemplates}
