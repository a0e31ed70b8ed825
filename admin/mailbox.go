package admin

// mailboxRoutes registers the mailbox pages.
func (a *Admin) mailboxRoutes() {}
