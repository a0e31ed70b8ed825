package records

import (
	"io"
	"mime/multipart"
)

// AddUploads puts a multipart form's file parts for key (a file field's
// name or a modifier key such as "docs+") into body as Uploads, after
// whatever body already holds under key (the names of files the record
// keeps). It is how a form's files become a record body, for the REST
// API and the admin alike; the parts' temporary files must outlive the
// write.
func AddUploads(body map[string]any, key string, fhs []*multipart.FileHeader) {
	ups := make([]*Upload, 0, len(fhs))
	for _, fh := range fhs {
		ups = append(ups, &Upload{Filename: fh.Filename, Size: fh.Size,
			Open: func() (io.ReadCloser, error) { return fh.Open() }})
	}
	names, ok := body[key]
	if !ok {
		body[key] = ups
		return
	}
	var list []any
	switch v := names.(type) {
	case []any:
		list = v
	case nil:
	default:
		list = []any{v}
	}
	for _, u := range ups {
		list = append(list, u)
	}
	body[key] = list
}
