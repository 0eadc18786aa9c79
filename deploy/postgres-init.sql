-- One database per service, as in a real deployment where no system reads another's tables.
CREATE DATABASE nuc_pki;
CREATE DATABASE shep_gateway;
CREATE DATABASE portal;
CREATE DATABASE mio_workstation;
CREATE DATABASE con_operator;
CREATE DATABASE gbd_fl;
