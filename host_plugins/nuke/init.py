# VOID Bridge for Nuke: runs in every Nuke session (GUI and nuke -t).
# Makes the bundled bridge/pyzmq/msgpack importable; a failure is logged and never stops Nuke.
try:
    import void_nuke.bootstrap

    void_nuke.bootstrap.add_bundled_packages()
    _problem = void_nuke.bootstrap.install_problem()
    if _problem:
        print("VOID: " + _problem.replace("\n", " "))
except Exception:
    import traceback

    print("VOID: the plugin could not set up its packages; Nuke continues without it.")
    traceback.print_exc()
