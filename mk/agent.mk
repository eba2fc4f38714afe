# `owd agent` (issue 16, behaviour.md section 14): the program's agent half. Its suite is
# tests/serve/test_agent.py (in make test-serve); its Swift tests are in make test-swift.
#
#   make demo-agent   (the end of make demo) examples/agent/demo.py: a temporary store,
#                     owd serve on a free port, two agents with examples/agent/hooks, a
#                     deployment through boto3, the wait, describe_deployments' answer

.PHONY: demo-agent
# mk/serve.mk (OWD_PROGRAM, SERVE_VENV) is read after this file: its names are used in the
# recipe only, which make expands once every file is read.
demo-agent:
	@$(MAKE) --no-print-directory -s $(OWD_PROGRAM) $(SERVE_VENV)/.ready
	@echo "== examples/agent/demo.py: owd serve, two owd agents, a deployment"
	@$(SERVE_VENV)/bin/python examples/agent/demo.py $(OWD_PROGRAM)
