package admin

// collectionRoutes registers the collections pages.
func (a *Admin) collectionRoutes() {}
