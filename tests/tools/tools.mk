# Test tools run by the integration tests, built into $(OUTPUT)/tools with the agent's library
# objects: tests/tools/<name>.c -> $(OUTPUT)/tools/<name>.

TOOLS_DIR := $(OUTPUT)/tools
TEST_TOOLS := $(patsubst tests/tools/%.c,$(TOOLS_DIR)/%,$(wildcard tests/tools/*.c))

$(TOOLS_DIR)/%: tests/tools/%.c $(LIB_OBJS) $(AGENT_HDRS) $(wildcard include/uvscope/*.h)
	$(call msg,TOOL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< $(LIB_OBJS) $(LIBS) -o $@
