-- A server's NICs (its ports, MACs, taps and addresses as the guest is
-- given them) are fixed when it is created, so they live on its row: the
-- agents' watch renders each guest without a join per server.
ALTER TABLE servers ADD COLUMN nics TEXT NOT NULL DEFAULT '';
