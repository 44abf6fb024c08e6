# VOID Bridge for Nuke: registers VOID > Remove Object... (GUI sessions).
# Registration is wrapped so that a broken plugin logs its traceback and Nuke still starts.
try:
    import void_nuke.menu_setup

    void_nuke.menu_setup.register()
except Exception:
    import traceback

    print("VOID: the Remove Object menu could not be registered; Nuke continues without it.")
    traceback.print_exc()
