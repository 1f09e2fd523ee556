package bench

import (
	"context"
	"fmt"
	"net/url"
)

// ensureImage returns the id of a public image named name, creating it
// with a few bytes of data when it does not exist or has no data yet.
func (c *client) ensureImage(ctx context.Context, name string) (string, error) {
	var list struct {
		Images []struct {
			ID, Status string
		} `json:"images"`
	}
	if err := c.do(ctx, "GET", "/image/v2/images?name="+url.QueryEscape(name), nil, &list); err != nil {
		return "", fmt.Errorf("find image %s: %w", name, err)
	}
	id := ""
	for _, im := range list.Images {
		if im.Status == "active" {
			return im.ID, nil
		}
		if im.Status == "queued" {
			id = im.ID
		}
	}
	if id == "" {
		var im struct{ ID string }
		err := c.do(ctx, "POST", "/image/v2/images", map[string]any{
			"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "public",
		}, &im)
		if err != nil {
			return "", fmt.Errorf("create image %s: %w", name, err)
		}
		id = im.ID
	}
	if err := c.raw(ctx, "PUT", "/image/v2/images/"+id+"/file", "application/octet-stream", []byte("onestack bench image\n")); err != nil {
		return "", fmt.Errorf("upload image %s: %w", name, err)
	}
	return id, nil
}

// ensureFlavor returns the id of a flavor named name, creating a public
// 1 vCPU, 64 MB, 1 GB one when it does not exist.
func (c *client) ensureFlavor(ctx context.Context, name string) (string, error) {
	next := "/compute/v2.1/flavors?limit=1000"
	for page := 0; next != "" && page < 100; page++ {
		var list struct {
			Flavors []struct{ ID, Name string } `json:"flavors"`
			Links   []link                      `json:"flavors_links"`
		}
		if err := c.do(ctx, "GET", next, nil, &list); err != nil {
			return "", fmt.Errorf("find flavor %s: %w", name, err)
		}
		for _, f := range list.Flavors {
			if f.Name == name {
				return f.ID, nil
			}
		}
		next = nextLink(list.Links)
	}
	var created struct {
		Flavor struct{ ID string } `json:"flavor"`
	}
	err := c.do(ctx, "POST", "/compute/v2.1/flavors", map[string]any{"flavor": map[string]any{
		"name": name, "vcpus": 1, "ram": 64, "disk": 1, "os-flavor-access:is_public": true,
	}}, &created)
	if err != nil {
		return "", fmt.Errorf("create flavor %s: %w", name, err)
	}
	return created.Flavor.ID, nil
}

// unlimitQuotas lifts the compute quotas of the token's project.
func (c *client) unlimitQuotas(ctx context.Context) error {
	err := c.do(ctx, "PUT", "/compute/v2.1/os-quota-sets/"+c.projectID, map[string]any{"quota_set": map[string]any{
		"instances": -1, "cores": -1, "ram": -1,
	}}, nil)
	if err != nil {
		return fmt.Errorf("lift the compute quotas of project %s (the bench needs an admin identity): %w", c.projectID, err)
	}
	return nil
}

// link is one entry of a *_links list.
type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

func nextLink(ls []link) string {
	for _, l := range ls {
		if l.Rel == "next" {
			return l.Href
		}
	}
	return ""
}
