process.env.PORTCULLIS_TEST_DATABASE = 'sqlite';
