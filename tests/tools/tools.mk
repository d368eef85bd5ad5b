# Test tools built on the agent's library objects, for the integration tests:
#   $(OUTPUT)/phase-map   the sampled-phase map of a libuv object (tests/tools/phase_map.c)

TEST_TOOLS := $(OUTPUT)/phase-map

$(OUTPUT)/tools/%.o: tests/tools/%.c $(AGENT_HDRS) $(wildcard include/uvscope/*.h) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

$(OUTPUT)/phase-map: $(OUTPUT)/tools/phase_map.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@
