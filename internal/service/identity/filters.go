package identity

// The filters the list methods take: the identity API's query vocabulary,
// owned here and converted to the store's own filters (the fields match
// one for one, so a change on either side fails to compile until the
// service decides how to map it).

// DomainFilter narrows ListDomains; zero values match every domain.
type DomainFilter struct {
	Name    string
	Enabled *bool
	IDs     []string // nil: any
}

// ProjectFilter narrows ListProjects; zero values match every project.
type ProjectFilter struct {
	DomainID, ParentID, Name string
	Enabled                  *bool
	IDs                      []string // nil: any
}

// UserFilter narrows ListUsers; GroupID keeps the members of one group.
type UserFilter struct {
	DomainID, Name string
	Enabled        *bool
	GroupID        string
}

// GroupFilter narrows ListGroups; UserID keeps the groups of one user.
type GroupFilter struct {
	DomainID, Name, UserID string
}

// RoleFilter narrows ListRoles.
type RoleFilter struct {
	Name     string
	DomainID *string // nil: any; "": global roles only
	IDs      []string
}

// EndpointFilter narrows ListEndpoints.
type EndpointFilter struct{ ServiceID, Interface, RegionID string }
