-- Argo CD health check for compactor.tempo.dev/TempoCompactor.
-- Install as resource.customizations.health.compactor.tempo.dev_TempoCompactor in argocd-cm.
-- Degraded wins over Ready; a status for an older generation is still Progressing.
local hs = {status = "Progressing", message = "Waiting for the TempoCompactor controller"}
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Pending deletion"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation or 0
local observed = obj.status.observedGeneration or 0
if observed < generation then
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
  return hs
end
local function message(c, fallback)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.reason or fallback
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Degraded" and c.status == "True" then
    return {status = "Degraded", message = message(c, "Degraded")}
  end
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "AutoscalingReady" and c.reason == "Fallback" then
    return {status = "Degraded", message = message(c, "KEDA fallback is active")}
  end
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" and c.status == "True" then
    return {status = "Healthy", message = message(c, "Ready")}
  end
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Progressing" and c.status == "True" then
    hs.message = message(c, hs.message)
  end
end
return hs
