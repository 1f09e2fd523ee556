package placement

// The filters the list methods take: the placement API's query vocabulary,
// owned here and converted to the store's own filters (the fields match
// one for one, so a change on either side fails to compile until the
// service decides how to map it).

// ProviderFilter narrows ListProviders; zero fields match all.
type ProviderFilter struct {
	UUID, Name string
	// InTree selects the providers in the same tree as this provider.
	InTree string
	// UUIDs, when not nil, limits the list to these providers.
	UUIDs []string
	// MemberOf: the provider is in at least one aggregate of every list.
	MemberOf [][]string
	// ForbiddenAggregates: the provider is in none of these.
	ForbiddenAggregates []string
	// RequiredTraits: the provider has at least one trait of every list.
	RequiredTraits [][]string
	// ForbiddenTraits: the provider has none of these.
	ForbiddenTraits []string
	// Resources: the provider has inventory of each class with room for the amount.
	Resources map[string]int64
}

// TraitFilter narrows ListTraits; zero fields match all.
type TraitFilter struct {
	NameIn     []string // nil: any
	Prefix     string
	Associated *bool // with at least one provider, or with none
}

// UsageFilter selects the consumers whose allocations TotalUsages sums.
type UsageFilter struct {
	ProjectID, UserID string
	// ConsumerType: "" any; "unknown" those without a type; "all" every
	// type, totalled per type; else that type.
	ConsumerType string
}
