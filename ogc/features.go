package ogc

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"net/url"
	"strconv"
	"strings"

	"github.com/paulmach/orb/encoding/mvt"
)

// Link is a link of an OGC API document.
type Link struct {
	// Href is the URL the link points to.
	Href string `json:"href"`
	// Rel is the relation of the target to the document: self, next, items, data...
	Rel string `json:"rel"`
	// Type is the media type of the target, e.g. application/geo+json.
	Type string `json:"type,omitempty"`
	// Title describes the target for people.
	Title string `json:"title,omitempty"`
}

// Links are the links of an OGC API document.
type Links []Link

// Href returns the href of the first link with the relation rel whose type starts with
// typ (any type when typ is empty), or "".
func (ls Links) Href(rel, typ string) string {
	for _, l := range ls {
		if l.Rel == rel && strings.HasPrefix(l.Type, typ) {
			return l.Href
		}
	}
	return ""
}

// Landing is the landing page of an OGC API.
type Landing struct {
	// Title is the API's title.
	Title string `json:"title"`
	// Description says what the API serves.
	Description string `json:"description"`
	// Links lead to the API definition, the conformance classes and the collections.
	Links Links `json:"links"`
}

// Conformance lists the conformance classes an OGC API implements.
type Conformance struct {
	// ConformsTo holds the URIs of the conformance classes.
	ConformsTo []string `json:"conformsTo"`
}

// Collection is an OGC API – Features collection.
type Collection struct {
	// ID names the collection in the /collections/{id} paths.
	ID string `json:"id"`
	// Title is the collection's title.
	Title string `json:"title"`
	// Description says what the collection holds.
	Description string `json:"description"`
	// ItemType is the kind of the items, "feature" for a features collection.
	ItemType string `json:"itemType"`
	// Extent is where the items lie.
	Extent struct {
		// Spatial is the spatial extent.
		Spatial struct {
			// BBox holds boxes in CRS: min lon, min lat, max lon, max lat.
			BBox [][]float64 `json:"bbox"`
			// CRS is the URI of the boxes' coordinate reference system.
			CRS string `json:"crs"`
		} `json:"spatial"`
	} `json:"extent"`
	// Links lead to the collection's items and descriptions.
	Links Links `json:"links"`
}

// Collections is the /collections document.
type Collections struct {
	// Collections are the collections the API serves.
	Collections []Collection `json:"collections"`
	// Links lead to this document in other formats.
	Links Links `json:"links"`
}

// IDs returns the ids of the collections.
func (c *Collections) IDs() []string {
	var out []string
	for _, col := range c.Collections {
		out = append(out, col.ID)
	}
	return out
}

// Items is a page of features of a collection.
type Items struct {
	// Type is the GeoJSON type, "FeatureCollection".
	Type string `json:"type"`
	// Features are the features of this page.
	Features []Feature `json:"features"`
	// NumberMatched is how many features match the query (all pages), -1 when the server
	// does not say.
	NumberMatched int `json:"numberMatched"`
	// NumberReturned is how many features this page holds.
	NumberReturned int `json:"numberReturned"`
	// Links lead to the next page and to this one.
	Links Links `json:"links"`
}

// Next returns the URL of the next page (the "next" link), or "" on the last page.
func (it *Items) Next() string { return it.Links.Href("next", "") }

// ItemsRequest selects features of a collection.
type ItemsRequest struct {
	// BBox in longitude/latitude (CRS84): min lon, min lat, max lon, max lat; zero: none.
	BBox [4]float64
	// Limit is the page size; 0 leaves it to the server.
	Limit int
	// Offset is the index of the first feature returned (a MapServer extension); 0: the first.
	Offset int
}

// FeaturesURL is the URL of an OGC API – Features resource under root, as JSON: path ""
// (landing page), "conformance", "collections", "collections/<id>/items"...
func FeaturesURL(root, path string, params map[string]string) string {
	u := strings.TrimRight(root, "/")
	if path != "" {
		u += "/" + path
	}
	p := map[string]string{"f": "json"}
	for k, v := range params {
		p[k] = v
	}
	return KVP(u, p)
}

func (c *Client) getJSON(ctx context.Context, u string, v any) error {
	r, err := c.Get(ctx, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("ogc: GET %s: %w: %.200s", u, err, r.Body)
	}
	return nil
}

// Landing fetches the landing page of an OGC API whose root is e.g.
// http://127.0.0.1:8080/ogcapi.
func (c *Client) Landing(ctx context.Context, root string) (*Landing, error) {
	var l Landing
	if err := c.getJSON(ctx, FeaturesURL(root, "", nil), &l); err != nil {
		return nil, err
	}
	if len(l.Links) == 0 {
		return nil, fmt.Errorf("ogc: %s: a landing page without links", root)
	}
	return &l, nil
}

// Conformance fetches the conformance classes of an OGC API.
func (c *Client) Conformance(ctx context.Context, root string) (*Conformance, error) {
	var cf Conformance
	if err := c.getJSON(ctx, FeaturesURL(root, "conformance", nil), &cf); err != nil {
		return nil, err
	}
	return &cf, nil
}

// Collections fetches the collections of an OGC API – Features.
func (c *Client) Collections(ctx context.Context, root string) (*Collections, error) {
	var cs Collections
	if err := c.getJSON(ctx, FeaturesURL(root, "collections", nil), &cs); err != nil {
		return nil, err
	}
	return &cs, nil
}

// Items fetches the first page of features of a collection.
func (c *Client) Items(ctx context.Context, root, collection string, r ItemsRequest) (*Items, error) {
	p := map[string]string{}
	if r.BBox != [4]float64{} {
		var s []string
		for _, v := range r.BBox {
			s = append(s, strconv.FormatFloat(v, 'f', -1, 64))
		}
		p["bbox"] = strings.Join(s, ",")
	}
	if r.Limit > 0 {
		p["limit"] = strconv.Itoa(r.Limit)
	}
	if r.Offset > 0 {
		p["offset"] = strconv.Itoa(r.Offset)
	}
	return c.ItemsPage(ctx, FeaturesURL(root, "collections/"+url.PathEscape(collection)+"/items", p))
}

// ItemsPage fetches a page of features at a URL, such as a page's Next.
func (c *Client) ItemsPage(ctx context.Context, u string) (*Items, error) {
	it := Items{NumberMatched: -1}
	if err := c.getJSON(ctx, u, &it); err != nil {
		return nil, err
	}
	if it.Type != "FeatureCollection" {
		return nil, fmt.Errorf("ogc: GET %s: not a FeatureCollection: %q", u, it.Type)
	}
	return &it, nil
}

// Item fetches one feature of a collection by id.
func (c *Client) Item(ctx context.Context, root, collection, id string) (*Feature, error) {
	var f Feature
	u := FeaturesURL(root, "collections/"+url.PathEscape(collection)+"/items/"+url.PathEscape(id), nil)
	if err := c.getJSON(ctx, u, &f); err != nil {
		return nil, err
	}
	if f.Type != "Feature" {
		return nil, fmt.Errorf("ogc: GET %s: not a Feature: %q", u, f.Type)
	}
	return &f, nil
}

// CheckFeatures fetches the landing page and the collections of an OGC API – Features and
// fails unless they answer and list every collection of want.
func (c *Client) CheckFeatures(ctx context.Context, root string, want []string) error {
	if _, err := c.Landing(ctx, root); err != nil {
		return err
	}
	cs, err := c.Collections(ctx, root)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, id := range cs.IDs() {
		have[id] = true
	}
	var missing []string
	for _, w := range want {
		if !have[w] {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("OGC API – Features %s: collections lack %s (have %s)", root, strings.Join(missing, ", "), strings.Join(cs.IDs(), ", "))
	}
	return nil
}

// MVT is the media type of Mapbox vector tiles.
const MVT = "application/vnd.mapbox-vector-tile"

// XYZTileURL is the URL of a tile of an XYZ endpoint (MapCache's gmaps service, as Kargo's
// gateway publishes it under /xyz): <base>/<tileset>@<grid>/<z>/<x>/<y>.<ext>, row 0 at the
// top as in web maps.
func XYZTileURL(base, tileset, grid string, z, x, y int, ext string) string {
	return fmt.Sprintf("%s/%s@%s/%d/%d/%d.%s", strings.TrimRight(base, "/"), tileset, grid, z, x, y, ext)
}

// VectorTile fetches a Mapbox vector tile (WMTS, TMS or XYZ URL) and decodes it; the
// features keep the tile's own coordinates (see mvt.Layers.ProjectToWGS84).
func (c *Client) VectorTile(ctx context.Context, u string) (mvt.Layers, *Response, error) {
	r, err := c.Get(ctx, u)
	if err != nil {
		return nil, r, err
	}
	if !strings.HasPrefix(r.ContentType, MVT) {
		return nil, r, fmt.Errorf("ogc: GET %s: %s, not a vector tile: %.200s", u, r.ContentType, r.Body)
	}
	ls, err := mvt.Unmarshal(r.Body)
	if err != nil {
		return nil, r, fmt.Errorf("ogc: GET %s: vector tile: %w", u, err)
	}
	return ls, r, nil
}

// CheckTile reads a tile: a vector tile must decode, an image tile must be an image.
func (c *Client) CheckTile(ctx context.Context, u string) error {
	if strings.HasSuffix(u, ".mvt") || strings.HasSuffix(u, ".pbf") {
		_, _, err := c.VectorTile(ctx, u)
		return err
	}
	var img image.Image
	img, _, err := c.GetTile(ctx, u)
	if err == nil && img.Bounds().Empty() {
		err = fmt.Errorf("ogc: GET %s: an empty image", u)
	}
	return err
}
