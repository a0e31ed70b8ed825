package admin

// superuserRoutes registers the superusers pages.
func (a *Admin) superuserRoutes() {}
