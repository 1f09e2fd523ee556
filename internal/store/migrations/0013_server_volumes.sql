-- A server's block device mappings (the volumes attached to it: volume,
-- Cinder attachment, device, boot index, delete_on_termination and the
-- attach/detach in progress) as JSON the compute service owns. They are
-- few per server and the agents' watch renders them into each guest, so
-- they live on its row.
ALTER TABLE servers ADD COLUMN volumes TEXT NOT NULL DEFAULT '';
